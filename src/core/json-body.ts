// Request bodies decoded as Go's encoding/json decodes them into moby's structs, driven by the API spec's
// schema (assets/engine-api-v1.45.schema.json, loaded by src/api/api-schema.ts):
// - `null` is the zero value, i.e. "unset": a null struct field is dropped; a null map value or array
//   element becomes its type's zero value (Go stores one), so SDKs that send null for every field the user
//   left out get defaults;
// - a value of the wrong JSON type is refused with Go's UnmarshalTypeError wording;
// - field names match case-insensitively (Go's fallback) and are rewritten to the spec's spelling;
// - unknown fields are kept untouched (Go ignores them; berth's own readers may know them).
import { InvalidParameterError } from '../errors.js';

/** A compacted spec node (see scripts/gen-api-schema.py). */
export interface SchemaNode {
  type?: 'string' | 'integer' | 'number' | 'boolean' | 'array' | 'object';
  format?: string;
  properties?: Record<string, SchemaNode>;
  additionalProperties?: SchemaNode;
  items?: SchemaNode;
  /** Name of a definition. */
  $ref?: string;
  nullable?: boolean;
}

export interface ApiSchema {
  definitions: Record<string, SchemaNode>;
  /** Keyed "METHOD /path" with the spec's path spelling. */
  bodies: Record<string, SchemaNode>;
}

/** Go's strslice.StrSlice fields: a JSON string is taken as a one-element list. Keyed Struct.Field. */
const STRSLICE = new Set(['ContainerConfigWrapper.Cmd', 'ContainerConfigWrapper.Entrypoint', 'ContainerConfigWrapper.Shell',
  'ContainerConfig.Cmd', 'ContainerConfig.Entrypoint', 'ContainerConfig.Shell', 'Config.Cmd', 'Config.Entrypoint', 'Config.Shell']);

class TypeMismatch extends Error {
  constructor(readonly value: string, readonly goType: string, readonly struct: string, readonly field: string) { super('type mismatch'); }
}

/** The text of Go's UnmarshalTypeError (Go ≥ 1.20: the full field path, the innermost struct's name). */
export function goTypeErrorText(value: string, goType: string, struct: string, field: string): string {
  return field
    ? `json: cannot unmarshal ${value} into Go struct field ${struct}.${field} of type ${goType}`
    : `json: cannot unmarshal ${value} into Go value of type ${goType}`;
}

function jsonKind(v: unknown): string {
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'boolean') return 'bool';
  return typeof v === 'object' ? 'object' : typeof v; // 'string' | 'number' | 'object'
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export class BodyDecoder {
  constructor(private readonly schema: ApiSchema) {}

  /** The schema of "METHOD /path" (path parameters' names ignored), if the spec gives a JSON object body. */
  bodySchema(method: string, path: string): SchemaNode | undefined {
    const want = `${method.toUpperCase()} ${normalizePath(path)}`;
    for (const [k, node] of Object.entries(this.schema.bodies)) {
      if (normalizePath(k) === want && this.resolve(node).node.type === 'object') return node;
    }
    return undefined;
  }

  /**
   * Decode `value` (already JSON.parse'd) against `node`; `root` names the Go struct moby decodes into
   * (it appears in error messages). Throws InvalidParameterError("invalid JSON: json: cannot unmarshal …").
   */
  decode(value: unknown, node: SchemaNode, root: string): unknown {
    if (value === null) return undefined;
    try {
      return this.walk(value, node, root, [], root);
    } catch (err) {
      if (err instanceof TypeMismatch) {
        throw new InvalidParameterError(`invalid JSON: ${goTypeErrorText(err.value, err.goType, err.struct, err.field)}`);
      }
      throw err;
    }
  }

  private resolve(node: SchemaNode): { node: SchemaNode; name?: string } {
    let name: string | undefined;
    let n = node;
    for (let i = 0; n.$ref && i < 10; i++) {
      name = n.$ref;
      n = this.schema.definitions[n.$ref] ?? {};
    }
    return { node: n, name };
  }

  goType(node: SchemaNode, fallbackName = ''): string {
    const { node: n, name } = this.resolve(node);
    switch (n.type) {
      case 'string': return 'string';
      case 'boolean': return 'bool';
      case 'number': return 'float64';
      case 'integer': return n.format === 'int64' || n.format === 'int32' || n.format === 'uint64' ? n.format : 'int';
      case 'array': return `[]${n.items ? this.goType(n.items) : 'interface {}'}`;
      case 'object':
        if (name || (n.properties && fallbackName)) return name ?? fallbackName;
        if (n.additionalProperties) return `map[string]${this.goType(n.additionalProperties)}`;
        return name ?? (fallbackName || 'map[string]interface {}');
      default: return 'interface {}';
    }
  }

  /** Go's zero value for a null inside a map or a list. */
  private zero(node: SchemaNode): unknown {
    const { node: n } = this.resolve(node);
    switch (n.type) {
      case 'string': return '';
      case 'boolean': return false;
      case 'integer': case 'number': return 0;
      case 'array': return [];
      case 'object': return {};
      default: return null;
    }
  }

  private walk(value: unknown, node: SchemaNode, structName: string, path: string[], fieldName: string): unknown {
    const { node: n, name } = this.resolve(node);
    const mismatch = (v = jsonKind(value)): never => {
      throw new TypeMismatch(v, this.goType(node, fieldName), structName, path.join('.'));
    };
    switch (n.type) {
      case 'string':
        if (typeof value !== 'string') mismatch();
        return value;
      case 'boolean':
        if (typeof value !== 'boolean') mismatch();
        return value;
      case 'number':
        if (typeof value !== 'number') mismatch();
        return value;
      case 'integer':
        if (typeof value !== 'number') mismatch();
        if (!Number.isInteger(value)) mismatch(`number ${String(value)}`);
        return value;
      case 'array': {
        if (typeof value === 'string' && STRSLICE.has(`${structName}.${path[path.length - 1] ?? ''}`)) return [value];
        if (!Array.isArray(value)) {
          // strslice's fallback decodes into a string, so its error names that type.
          if (STRSLICE.has(`${structName}.${path[path.length - 1] ?? ''}`)) {
            throw new TypeMismatch(jsonKind(value), 'string', structName, path.join('.'));
          }
          mismatch();
        }
        const items = n.items;
        if (!items) return value;
        return (value as unknown[]).map((v) => v === null ? this.zero(items) : this.walk(v, items, structName, path, fieldName));
      }
      case 'object': {
        if (!isPlainObject(value)) mismatch();
        const obj = value as Record<string, unknown>;
        const out: Record<string, unknown> = {};
        const props = n.properties;
        const inner = props ? (name ?? fieldName) : structName;
        const lower = props ? new Map(Object.keys(props).map((k) => [k.toLowerCase(), k])) : undefined;
        for (const [k, v] of Object.entries(obj)) {
          const canon = props ? (k in props ? k : lower!.get(k.toLowerCase())) : undefined;
          if (canon !== undefined) {
            if (v === null) continue; // null = unset
            // An exact spelling wins over a case-folded one (Go's order).
            if (canon !== k && canon in obj) continue;
            out[canon] = this.walk(v, props![canon]!, inner, [...path, canon], canon);
          } else if (n.additionalProperties && !props) {
            out[k] = v === null ? this.zero(n.additionalProperties) : this.walk(v, n.additionalProperties, structName, path, fieldName);
          } else if (v !== null) {
            out[k] = v; // unknown or free-form: kept as sent
          }
        }
        return out;
      }
      default:
        return value;
    }
  }
}

/** Generic rule for bodies the spec does not type: null object fields are unset. */
export function dropNullFields(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(dropNullFields);
  if (!isPlainObject(value)) return value;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = dropNullFields(v);
  return out;
}

function normalizePath(p: string): string {
  const sp = p.indexOf(' ');
  const method = sp >= 0 ? p.slice(0, sp + 1) : '';
  return method + p.slice(sp + 1).replace(/\{[^}]*\}/g, '{}');
}
