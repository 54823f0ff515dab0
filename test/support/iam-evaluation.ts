/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation and IAM documents are untyped JSON */
// Turns a packaged template into the policies AWS would hold once the stack is created, and asks
// @cloud-copilot/iam-simulate (a maintained IAM policy simulator) what a principal may do: identity
// policies, permissions boundaries and the resource or key policy evaluated together.
import { runSimulation, runUnsafeSimulation, type Simulation } from '@cloud-copilot/iam-simulate';
import type { Template } from './serverless-package';

export const ACCOUNT = '123456789012';
export const REGION = 'us-east-1';
const PSEUDO: Record<string, string> = {
  'AWS::Partition': 'aws',
  'AWS::Region': REGION,
  'AWS::AccountId': ACCOUNT,
  'AWS::URLSuffix': 'amazonaws.com',
  'AWS::StackName': 'stack',
};

type Props = Record<string, any>;
const regional = (service: string, rest: string) =>
  `arn:aws:${service}:${REGION}:${ACCOUNT}:${rest}`;

/** What `Ref` returns, by resource type (anything else gets a made-up physical id). */
const REF: Record<string, (id: string, p: Props) => string> = {
  'AWS::IAM::Role': (_, p) => p.RoleName,
  'AWS::IAM::ManagedPolicy': (id) => `arn:aws:iam::${ACCOUNT}:policy/${id}`,
  'AWS::SecretsManager::Secret': (_, p) => regional('secretsmanager', `secret:${p.Name}-AbCdEf`),
  'AWS::KMS::Key': () => '1234abcd-12ab-34cd-56ef-1234567890ab',
  'AWS::SNS::Topic': (id) => regional('sns', id),
  'AWS::ApiGatewayV2::Api': () => 'a1b2c3d4e5',
};

/** What `Fn::GetAtt [id, 'Arn']` returns, by resource type. */
const ARN: Record<string, (stack: Stack, id: string, p: Props) => string> = {
  'AWS::IAM::Role': (_, __, p) => `arn:aws:iam::${ACCOUNT}:role${p.Path ?? '/'}${p.RoleName}`,
  'AWS::KMS::Key': (stack, id) => regional('kms', `key/${stack.ref(id)}`),
  'AWS::SQS::Queue': (_, __, p) => regional('sqs', p.QueueName),
  'AWS::DynamoDB::Table': (_, __, p) => regional('dynamodb', `table/${p.TableName}`),
  'AWS::Events::Rule': (stack, id) => regional('events', `rule/${stack.ref(id)}`),
  'AWS::Lambda::Function': (_, __, p) => regional('lambda', `function:${p.FunctionName}`),
  'AWS::Logs::LogGroup': (_, __, p) => regional('logs', `log-group:${p.LogGroupName}:*`),
};

/** The intrinsic functions this project's templates use. */
const INTRINSICS: Record<string, (stack: Stack, argument: any) => any> = {
  Ref: (stack, id) => stack.ref(id),
  'Fn::GetAtt': (stack, [id, attribute]) => {
    if (attribute !== 'Arn') throw new Error(`no ${attribute} for ${id} in this evaluation`);
    return stack.arn(id);
  },
  'Fn::Sub': (stack, argument) => {
    const [text, vars = {}] = typeof argument === 'string' ? [argument] : argument;
    return (text as string).replace(/\$\{([^}]+)\}/g, (_, name: string) =>
      name in vars ? stack.resolve(vars[name]) : stack.ref(name),
    );
  },
  'Fn::Join': (stack, [separator, parts]) => stack.resolve(parts).join(separator),
};

/** Where each kind of resource policy lives, and which resource ARNs it governs. */
const RESOURCE_POLICIES: Record<
  string,
  (stack: Stack, id: string, p: Props) => { governs: (arn: string) => boolean; policy: any }
> = {
  'AWS::KMS::Key': (stack, id, p) => ({
    governs: (arn) => arn === stack.arn(id),
    policy: p.KeyPolicy,
  }),
  'AWS::SecretsManager::ResourcePolicy': (stack, _, p) => ({
    governs: (arn) => arn === stack.resolve(p.SecretId),
    policy: p.ResourcePolicy,
  }),
  'AWS::S3::BucketPolicy': (stack, _, p) => {
    const bucket = `arn:aws:s3:::${stack.resolve(p.Bucket)}`;
    return {
      governs: (arn) => arn === bucket || arn.startsWith(`${bucket}/`),
      policy: p.PolicyDocument,
    };
  },
};

/** Names CloudFormation would give this template's resources, and the policies it would hold. */
export class Stack {
  constructor(readonly template: Template) {}

  private resource(id: string): { type: string; p: Props } {
    const resource = this.template.Resources[id];
    if (!resource) throw new Error(`no resource ${id} in the template`);
    return { type: resource.Type, p: resource.Properties ?? {} };
  }

  /** What `Ref` returns. */
  ref(id: string): string {
    if (id in PSEUDO) return PSEUDO[id]!;
    const { type, p } = this.resource(id);
    return REF[type]?.(id, p) ?? `${id.toLowerCase()}-x1y2z3`;
  }

  /** What `Fn::GetAtt [id, 'Arn']` returns. */
  arn(id: string): string {
    const { type, p } = this.resource(id);
    const arn = ARN[type];
    if (!arn) throw new Error(`no Arn for ${id} (${type}) in this evaluation`);
    return arn(this, id, p);
  }

  /** The value with every intrinsic function resolved. */
  resolve(value: any): any {
    if (Array.isArray(value)) return value.map((item) => this.resolve(item));
    if (value === null || typeof value !== 'object') return value;
    const [name] = Object.keys(value);
    const intrinsic = name === undefined ? undefined : INTRINSICS[name];
    if (intrinsic) return intrinsic(this, value[name!]);
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.resolve(v)]));
  }

  /** Every policy the role holds: inline, managed (this template's or `managed[arn]`). */
  identityPolicies(
    roleId: string,
    managed: Record<string, unknown>,
  ): { name: string; policy: any }[] {
    const { p } = this.resource(roleId);
    const inline = (p.Policies ?? []).map((policy: any) => ({
      name: policy.PolicyName,
      policy: this.resolve(policy.PolicyDocument),
    }));
    const attached = (p.ManagedPolicyArns ?? []).map((entry: any) => {
      if (typeof entry === 'object' && 'Ref' in entry)
        return { name: entry.Ref, policy: this.resolve(this.resource(entry.Ref).p.PolicyDocument) };
      if (!(entry in managed)) throw new Error(`no document for the managed policy ${entry}`);
      return { name: entry.split('/').pop(), policy: managed[entry] };
    });
    return [...inline, ...attached];
  }

  /** The resource policy AWS would hold for the resource a request names, if any. */
  resourcePolicy(resourceArn: string): any {
    for (const [id, resource] of Object.entries(this.template.Resources)) {
      const found = RESOURCE_POLICIES[resource.Type]?.(this, id, resource.Properties ?? {});
      if (found?.governs(resourceArn)) return this.resolve(found.policy);
    }
    return undefined;
  }
}

export interface Request {
  readonly action: string;
  readonly resource: string;
  readonly context?: Record<string, string | string[]>;
  /**
   * The simulator's action catalogue lacks the resource (HTTP APIs' `/apis/...` ARNs are missing
   * from its apigateway actions), so it evaluates this request without validating it first.
   */
  readonly outsideCatalogue?: true;
}

export type Decision = 'Allowed' | 'ExplicitlyDenied' | 'ImplicitlyDenied';

/** Who makes a request: an ARN, the policies it holds, and its permissions boundary, if any. */
export interface Principal {
  readonly arn: string;
  readonly policies: { name: string; policy: any }[];
  readonly boundary?: { name: string; policy: any }[];
}

/** A role of the stack, by logical id, with `managed` giving AWS's managed policies by ARN. */
export function stackRole(
  stack: Stack,
  roleId: string,
  managed: Record<string, unknown> = {},
): Principal {
  const arn = stack.template.Resources[roleId]?.Properties?.PermissionsBoundary;
  const ref = (arn as { Ref?: string } | undefined)?.Ref;
  if (arn !== undefined && !ref)
    throw new Error(`${roleId}'s boundary is not this template's policy`);
  return {
    arn: stack.arn(roleId),
    policies: stack.identityPolicies(roleId, managed),
    ...(ref
      ? {
          boundary: [
            {
              name: ref,
              policy: stack.resolve(stack.template.Resources[ref]!.Properties.PolicyDocument),
            },
          ],
        }
      : {}),
  };
}

/** AWS's decision for `principal` making `request` against the stack's resource policies. */
export async function evaluate(
  stack: Stack,
  principal: Principal,
  request: Request,
): Promise<Decision> {
  const simulation: Simulation = {
    request: {
      principal: principal.arn,
      action: request.action,
      resource: { resource: request.resource, accountId: ACCOUNT },
      contextVariables: {
        'aws:PrincipalArn': principal.arn,
        'aws:PrincipalAccount': ACCOUNT,
        'aws:SecureTransport': 'true',
        ...request.context,
      },
    },
    identityPolicies: principal.policies,
    ...(principal.boundary ? { permissionBoundaryPolicies: principal.boundary } : {}),
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    resourcePolicy: stack.resourcePolicy(request.resource),
  };
  if (request.outsideCatalogue) return runUnsafeSimulation(simulation, {});
  const result = await runSimulation(simulation, {});
  if (result.resultType === 'error')
    throw new Error(
      `the simulator refused ${request.action} on ${request.resource}: ${result.errors.message}`,
    );
  return result.overallResult as Decision;
}
