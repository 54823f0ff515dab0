import { GetItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';

type Value = { S?: string; N?: string };
type Item = Record<string, Value>;

/**
 * The control table in memory, for a simulation on a virtual clock (no I/O, so no real time
 * passes inside a call): GetItem, and UpdateItem with the expressions the control plane writes
 * (`SET a = :v, ...`, `ADD a :n`, conditions joined by OR or AND of `attribute_not_exists(a)`
 * and comparisons). Anything else throws, so a new expression cannot pass unmodelled.
 */
export class MemoryDynamo {
  readonly items = new Map<string, Item>();
  calls = 0;
  /** When set, a command on a key it matches fails (a planted fault). */
  failKeys?: RegExp;

  async send(command: unknown): Promise<unknown> {
    this.calls += 1;
    if (command instanceof GetItemCommand) {
      const key = this.keyOf(command.input.Key as Item);
      return { Item: structuredClone(this.items.get(key)) };
    }
    if (command instanceof UpdateItemCommand) return this.update(command);
    throw new Error(`MemoryDynamo: ${(command as object).constructor.name} is not modelled`);
  }

  private keyOf(key: Item): string {
    const id = `${key.pk?.S}|${key.sk?.S}`;
    if (this.failKeys?.test(id))
      throw Object.assign(new Error('the table refused the call'), { name: 'InternalServerError' });
    return id;
  }

  private update(command: UpdateItemCommand): object {
    const input = command.input;
    const id = this.keyOf(input.Key as Item);
    const names = input.ExpressionAttributeNames ?? {};
    const values = (input.ExpressionAttributeValues ?? {}) as Record<string, Value>;
    const item: Item = structuredClone(this.items.get(id)) ?? { ...(input.Key as Item) };
    const exists = this.items.has(id);
    if (
      input.ConditionExpression &&
      !holds(input.ConditionExpression, exists ? item : {}, names, values)
    )
      throw Object.assign(new Error('The conditional request failed'), {
        name: 'ConditionalCheckFailedException',
      });
    apply(input.UpdateExpression ?? '', item, names, values);
    this.items.set(id, item);
    return {};
  }
}

const attribute = (token: string, names: Record<string, string>) => names[token] ?? token;

function holds(
  condition: string,
  item: Item,
  names: Record<string, string>,
  values: Record<string, Value>,
): boolean {
  if (/ OR /.test(condition))
    return condition.split(' OR ').some((part) => holds(part, item, names, values));
  if (/ AND /.test(condition))
    return condition.split(' AND ').every((part) => holds(part, item, names, values));
  const absent = /^attribute_not_exists\((\S+)\)$/.exec(condition.trim());
  if (absent) return item[attribute(absent[1]!, names)] === undefined;
  const comparison = /^(\S+) (<=|<|>=|>|=) (:\S+)$/.exec(condition.trim());
  if (!comparison) throw new Error(`MemoryDynamo: condition "${condition}" is not modelled`);
  const [, left, operator, right] = comparison;
  return compare(item[attribute(left!, names)], values[right!], operator!);
}

function compare(left: Value | undefined, right: Value | undefined, operator: string): boolean {
  if (left === undefined || right === undefined) return false;
  const [a, b] = left.N !== undefined ? [Number(left.N), Number(right.N)] : [left.S!, right.S!];
  if (operator === '<') return a < b;
  if (operator === '<=') return a <= b;
  if (operator === '>') return a > b;
  if (operator === '>=') return a >= b;
  return a === b;
}

function apply(
  expression: string,
  item: Item,
  names: Record<string, string>,
  values: Record<string, Value>,
): void {
  for (const clause of expression.split(/(?=\b(?:SET|ADD) )/)) {
    const [verb, ...rest] = clause.trim().split(' ');
    for (const part of rest.join(' ').split(',')) {
      const words = part.trim().split(/\s*=\s*|\s+/);
      const name = attribute(words[0]!, names);
      const value = values[words[1]!];
      if (!value) throw new Error(`MemoryDynamo: "${clause}" is not modelled`);
      if (verb === 'SET') item[name] = value;
      else if (verb === 'ADD')
        item[name] = { N: String(Number(item[name]?.N ?? 0) + Number(value.N)) };
      else throw new Error(`MemoryDynamo: "${clause}" is not modelled`);
    }
  }
}
