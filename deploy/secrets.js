// @ts-check
'use strict';
// The webhook secret and the App credentials, each its own secret, both under the stack's KMS key.
// Who can read them is decided here, not by whatever IAM policies the account holds:
// - each secret's resource policy denies reading its value to every principal but its readers
//   (the broker for the App key; the webhook and the broker for the webhook secret);
// - the key policy lets those readers decrypt, and lets the account's IAM administer the key and
//   store values through Secrets Manager, but decrypt nothing outside Secrets Manager.
// Only the account's administrators, who can rewrite these policies, stand above them.

const account = (/** @type {string} */ rest) => ({
  'Fn::Sub': `arn:\${AWS::Partition}:iam::\${AWS::AccountId}:${rest}`,
});
const roleArn = (/** @type {string} */ role) => ({ 'Fn::GetAtt': [role, 'Arn'] });
const throughSecretsManager = {
  StringEquals: {
    'kms:ViaService': { 'Fn::Sub': 'secretsmanager.${AWS::Region}.amazonaws.com' },
    'kms:CallerAccount': { Ref: 'AWS::AccountId' },
  },
};

/** Everything that administers the key, and no cryptographic use of it. */
const ADMINISTRATION = [
  'kms:Create*',
  'kms:Describe*',
  'kms:Enable*',
  'kms:List*',
  'kms:Put*',
  'kms:Update*',
  'kms:Revoke*',
  'kms:Disable*',
  'kms:Get*',
  'kms:Delete*',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:ScheduleKeyDeletion',
  'kms:CancelKeyDeletion',
  'kms:RotateKeyOnDemand',
];

/** @param {string[]} readers the roles that read the secrets */
function keyPolicy(readers) {
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: 'AccountAdministersTheKey',
        Effect: 'Allow',
        Principal: { AWS: account('root') },
        Action: ADMINISTRATION,
        Resource: '*',
      },
      {
        // Secrets Manager needs both to store a new value (npm run deploy:secrets). Reading a
        // value back is the secret's resource policy's to refuse.
        Sid: 'AccountStoresValuesThroughSecretsManager',
        Effect: 'Allow',
        Principal: { AWS: account('root') },
        Action: ['kms:GenerateDataKey*', 'kms:Decrypt'],
        Resource: '*',
        Condition: throughSecretsManager,
      },
      {
        Sid: 'ReadersDecryptThroughSecretsManager',
        Effect: 'Allow',
        Principal: { AWS: readers.map(roleArn) },
        Action: 'kms:Decrypt',
        Resource: '*',
        Condition: throughSecretsManager,
      },
    ],
  };
}

/**
 * Denies reading the secret's value to every principal but `readers`.
 * @param {string} secret the secret's logical id @param {string[]} readers role logical ids
 */
function readersOnly(secret, readers) {
  return {
    Type: 'AWS::SecretsManager::ResourcePolicy',
    Properties: {
      SecretId: { Ref: secret },
      BlockPublicPolicy: true,
      ResourcePolicy: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyItsReadersReadIt',
            Effect: 'Deny',
            Principal: '*',
            Action: 'secretsmanager:GetSecretValue',
            Resource: '*',
            Condition: { StringNotEquals: { 'aws:PrincipalArn': readers.map(roleArn) } },
          },
        ],
      },
    },
  };
}

/**
 * The additional Apps' credentials (`github-app-2` and on), read by the broker alone.
 * @param {string} stage @param {number} count
 */
function additionalAppSecrets(stage, count) {
  /** @type {Record<string, unknown>} */
  const resources = {};
  for (const id of additionalAppSecretIds(count)) {
    const number = id.replace('AppSecret', '');
    resources[id] = {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `lambda-runner/${stage}/github-app-${number}`,
        Description: `GitHub App ${number} credentials {"appId","privateKey"}; set by npm run deploy:secrets -- --app ${number}`,
        KmsKeyId: { Ref: 'SecretsKey' },
        SecretString: '{"appId":"","privateKey":""}',
      },
    };
    resources[`${id}Readers`] = readersOnly(id, ['BrokerRole']);
  }
  return resources;
}

/** The logical ids of the additional Apps' secrets: AppSecret2, AppSecret3, ... */
const additionalAppSecretIds = (/** @type {number} */ count) =>
  Array.from({ length: count }, (_, index) => `AppSecret${index + 2}`);

/** The stage's secrets, KMS-encrypted with the stack's own key. */
function secrets(/** @type {string} */ stage, additionalApps = 0) {
  return {
    ...additionalAppSecrets(stage, additionalApps),
    SecretsKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `lambda-runner ${stage}: encrypts the webhook secret and the GitHub App key`,
        EnableKeyRotation: true,
        KeyPolicy: keyPolicy(['WebhookRole', 'BrokerRole']),
      },
    },
    WebhookSecret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `lambda-runner/${stage}/webhook-secret`,
        Description: 'GitHub App webhook secret (a plain string); set by npm run deploy:secrets',
        KmsKeyId: { Ref: 'SecretsKey' },
        GenerateSecretString: { PasswordLength: 40, ExcludePunctuation: true },
      },
    },
    WebhookSecretReaders: readersOnly('WebhookSecret', ['WebhookRole', 'BrokerRole']),
    AppSecret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `lambda-runner/${stage}/github-app`,
        Description: 'GitHub App credentials {"appId","privateKey"}; set by npm run deploy:secrets',
        KmsKeyId: { Ref: 'SecretsKey' },
        SecretString: '{"appId":"","privateKey":""}',
      },
    },
    AppSecretReaders: readersOnly('AppSecret', ['BrokerRole']),
  };
}

module.exports = { secrets, additionalAppSecretIds };
