// Type-correct sample values for spec nodes: a refused field must be refused by its rule, not by the
// body's type check.
import { loadApiSchema, type SchemaNode } from '../../src/api/api-schema.js';

const schema = loadApiSchema();
export const resolveNode = (n: SchemaNode): SchemaNode => (n.$ref ? resolveNode(schema.definitions[n.$ref]!) : n);
export const createBody = resolveNode(schema.bodies['POST /containers/create']!);
export const hostConfigProps = resolveNode(createBody.properties!.HostConfig!).properties!;

/** A type-correct "set" value for a spec node (so the refusal, not the type check, answers). */
export function sampleValue(n: SchemaNode, depth = 0): unknown {
  const r = resolveNode(n);
  switch (r.type) {
    case 'string': return 'x';
    case 'integer': case 'number': return 1;
    case 'boolean': return true;
    case 'array': return [sampleValue(r.items ?? { type: 'string' }, depth + 1)];
    default:
      if (r.properties && depth < 3) return Object.fromEntries(Object.entries(r.properties).map(([k, v]) => [k, sampleValue(v, depth + 1)]));
      return { x: r.additionalProperties ? sampleValue(r.additionalProperties, depth + 1) : {} };
  }
}

