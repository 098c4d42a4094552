// FROM --platform and the platform build args, as buildkit defines them: BUILDPLATFORM/BUILDOS/
// BUILDARCH/BUILDVARIANT (where the build runs) and TARGETPLATFORM/TARGETOS/TARGETARCH/TARGETVARIANT
// (what it builds for) are in the global scope, for FROM lines; a stage sees one only when it declares
// it (`ARG TARGETARCH`). Pure.
import { platformString, type PlatformWanted } from '../core/manifest.js';

export function platformArgs(build: PlatformWanted, target: PlatformWanted): Map<string, string> {
  const m = new Map<string, string>();
  for (const [prefix, p] of [['BUILD', build], ['TARGET', target]] as const) {
    m.set(`${prefix}PLATFORM`, platformString(p));
    m.set(`${prefix}OS`, p.os);
    m.set(`${prefix}ARCH`, p.architecture);
    m.set(`${prefix}VARIANT`, p.variant ?? '');
  }
  return m;
}

/** The variant an architecture has when none is written (containerd's normalization). */
function variantOf(p: { architecture: string; variant?: string }): string {
  if (p.variant) return p.variant;
  return p.architecture === 'arm64' ? 'v8' : p.architecture === 'arm' ? 'v7' : '';
}

/** Whether an image's platform satisfies a wanted one: os and architecture equal; a wanted variant too. */
export function platformMatches(want: PlatformWanted, have: { os?: string; architecture?: string; variant?: string }): boolean {
  if ((have.os || 'linux') !== want.os || have.architecture !== want.architecture) return false;
  return want.variant === undefined || variantOf(want) === variantOf({ architecture: have.architecture, ...(have.variant ? { variant: have.variant } : {}) });
}
