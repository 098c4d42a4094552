/**
 * docker search's rules (moby registry/search.go), pure: which index a term goes to, the limit, the filters,
 * and how results are filtered. The request itself is the distribution service's.
 */
import { InvalidParameterError } from '../errors.js';
import { boolFilter, type Filters } from './filters.js';

export const SEARCH_FILTERS = ['is-automated', 'is-official', 'stars'] as const;
export const DEFAULT_SEARCH_LIMIT = 25;

export interface SearchResult {
  name: string;
  description: string;
  star_count: number;
  is_official: boolean;
  is_automated: boolean;
}

/** splitReposSearchTerm: "host[:port]/rest" goes to that registry's index, anything else to Docker Hub. */
export function searchTarget(term: string): { index: string; remote: string } {
  if (/^[a-zA-Z][a-zA-Z0-9+.-]*:\/\//.test(term)) {
    throw new InvalidParameterError(`invalid repository name: repository name (${term}) should not have a scheme`);
  }
  const i = term.indexOf('/');
  const first = i < 0 ? term : term.slice(0, i);
  if (i < 0 || (!first.includes('.') && !first.includes(':') && first !== 'localhost')) {
    // Docker Hub stores "library/foo" as "foo"
    return { index: 'docker.io', remote: term.replace(/^library\//, '') };
  }
  return { index: first, remote: term.slice(i + 1) };
}

export function searchLimit(raw: string | null): number {
  let n = 0;
  if (raw !== null && raw !== '') {
    if (!/^-?\d+$/.test(raw)) throw new InvalidParameterError(`strconv.Atoi: parsing "${raw}": invalid syntax`);
    n = Number(raw);
  }
  if (n === 0) n = DEFAULT_SEARCH_LIMIT;
  if (n < 1 || n > 100) throw new InvalidParameterError(`limit ${n} is outside the range of [1, 100]`);
  return n;
}

export interface SearchFilter { automatedOnly: boolean; official?: boolean; minStars?: number }

export function searchFilter(f: Filters): SearchFilter {
  const automated = boolFilter(f, 'is-automated') ?? false;
  const official = boolFilter(f, 'is-official');
  let minStars: number | undefined;
  for (const s of f.get('stars') ?? []) {
    if (!/^-?\d+$/.test(s)) throw new InvalidParameterError(`invalid filter 'stars=${s}': strconv.Atoi: parsing "${s}": invalid syntax`);
    minStars = Math.max(minStars ?? 0, Number(s));
  }
  return { automatedOnly: automated, ...(official !== undefined ? { official } : {}), ...(minStars !== undefined ? { minStars } : {}) };
}

/** moby's Service.Search filtering; "is-automated" is deprecated: true finds nothing, and results report false. */
export function filterResults(results: readonly SearchResult[], f: SearchFilter): SearchResult[] {
  if (f.automatedOnly) return [];
  return results
    .filter((r) => (f.official === undefined || r.is_official === f.official) && (f.minStars === undefined || r.star_count >= f.minStars))
    .map((r) => ({ ...r, is_automated: false }));
}
