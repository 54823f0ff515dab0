/* eslint-disable @typescript-eslint/no-explicit-any -- CloudFormation templates are untyped JSON */

/**
 * The resources each resource depends on, as CloudFormation orders them: `Ref`, `Fn::GetAtt`,
 * `${Name}` / `${Name.Attr}` inside `Fn::Sub`, and `DependsOn`. Parameters and pseudo
 * parameters (`AWS::Region`) are not resources and are left out.
 */
export function dependencyGraph(template: {
  Resources: Record<string, any>;
}): Map<string, Set<string>> {
  const ids = new Set(Object.keys(template.Resources));
  const graph = new Map<string, Set<string>>();
  for (const [id, resource] of Object.entries(template.Resources)) {
    const found = new Set<string>();
    collect(resource.Properties, found);
    for (const name of [resource.DependsOn ?? []].flat()) found.add(String(name));
    graph.set(id, new Set([...found].filter((name) => ids.has(name))));
  }
  return graph;
}

function collect(node: unknown, found: Set<string>): void {
  if (Array.isArray(node)) return node.forEach((item) => collect(item, found));
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    targets(key, value).forEach((name) => found.add(name));
    collect(value, found);
  }
}

function targets(key: string, value: unknown): string[] {
  if (key === 'Ref') return typeof value === 'string' ? [value] : [];
  if (key === 'Fn::GetAtt') return [getAttTarget(value)];
  if (key === 'Fn::Sub') return subTargets(value);
  return [];
}

function getAttTarget(value: unknown): string {
  if (Array.isArray(value)) return String(value[0]);
  return String(value).split('.')[0] ?? '';
}

function subTargets(value: unknown): string[] {
  const text = Array.isArray(value) ? value[0] : value;
  if (typeof text !== 'string') return [];
  return [...text.matchAll(/\$\{([^!}][^}]*)\}/g)].map((match) => match[1]!.split('.')[0]!);
}

/** Every dependency cycle, each as the resource ids along it (first id repeated at the end). */
export function findCycles(graph: Map<string, Set<string>>): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (id: string) => {
    state.set(id, 'open');
    path.push(id);
    for (const next of graph.get(id) ?? []) {
      if (state.get(next) === 'open') cycles.push([...path.slice(path.indexOf(next)), next]);
      else if (!state.has(next)) visit(next);
    }
    path.pop();
    state.set(id, 'done');
  };
  for (const id of graph.keys()) if (!state.has(id)) visit(id);
  return cycles;
}
