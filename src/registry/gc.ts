import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { isDigestString } from '../core/manifest.js';
import { writeFileAtomic } from '../store/meta/atomic.js';
import type { RegistryStorage } from './storage.js';

/**
 * `berth registry garbage-collect`: the distribution registry's mark and sweep, over berth registry's storage.
 *
 * Mark: per repository, every manifest revision (with `deleteUntagged`, only those a tag points at, the
 * children of a kept index, and the referrers of a kept manifest) and what it references: config and layers,
 * an index's child manifests. Sweep: the untagged manifests not marked lose their revision (and tags and
 * referrer link), every blob of the content store not marked is deleted, and each repository's layer links to
 * unmarked blobs go. Output is distribution's, line for line. A blob uploaded for a manifest not yet pushed is
 * not marked, so it must not run beside a server that takes writes: `serve` records itself under the root and
 * this refuses while a writable one is alive (distribution's rule: the registry stopped or read-only).
 */
export interface GcOptions { dryRun: boolean; deleteUntagged: boolean; quiet: boolean }

interface ManifestDel { name: string; digest: string; tags: string[] }

export async function garbageCollect(st: RegistryStorage, opts: GcOptions, out: (line: string) => void): Promise<void> {
  const emit = (line: string): void => { if (!opts.quiet) out(line); };
  const busy = await writableServers(st);
  if (busy.length) {
    throw new Error(`berth registry serve (pid ${busy.join(', ')}) is running on ${st.paths.root} and takes writes: stop it or restart it with --read-only first`);
  }
  const marked = new Set<string>();
  const candidates: ManifestDel[] = [];
  const deleteLayers = new Map<string, string[]>();
  for (const repo of await st.catalog()) {
    emit(repo);
    const markBlob = (d: string): boolean => {
      if (marked.has(d)) return true;
      marked.add(d);
      emit(`${repo}: marking blob ${d}`);
      return false;
    };
    const markReferences = async (digest: string): Promise<void> => {
      const m = await st.readRevision(repo, digest);
      if (!m) throw new Error(`failed to retrieve manifest for digest ${digest}`);
      const refs = m.kind === 'image' ? [m.manifest.config, ...m.manifest.layers] : m.manifest.manifests;
      for (const d of refs) {
        if (markBlob(d.digest)) continue;
        if (await exists(st.paths.revision(repo, d.digest))) await markReferences(d.digest);
      }
    };
    const markManifest = async (digest: string): Promise<void> => {
      emit(`${repo}: marking manifest ${digest} `);
      marked.add(digest);
      await markReferences(digest);
    };
    const revisions = await digestsIn(st.paths.revisionsDir(repo));
    const tagged = new Set<string>();
    const tags = await st.tags(repo).catch(() => [] as string[]);
    for (const t of tags) tagged.add(await st.resolveTag(repo, t).catch(() => ''));
    const untagged: string[] = [];
    for (const digest of revisions) {
      if (opts.deleteUntagged && !tagged.has(digest)) { untagged.push(digest); continue; }
      await markManifest(digest);
    }
    // Referrers (signatures, SBOMs) carry no tag: they live as long as their subject does.
    for (let grew = true; grew;) {
      grew = false;
      for (const digest of untagged) {
        if (marked.has(digest)) continue;
        const subject = (await st.readRevision(repo, digest))?.manifest.subject?.digest;
        if (subject && marked.has(subject)) { await markManifest(digest); grew = true; }
      }
    }
    for (const digest of untagged) candidates.push({ name: repo, digest, tags });
    const unmarkedLinks = (await digestsIn(st.paths.layersDir(repo))).filter((d) => !marked.has(d));
    if (unmarkedLinks.length) deleteLayers.set(repo, unmarkedLinks);
  }

  const manifests = candidates.filter((m) => !marked.has(m.digest));
  for (const m of manifests) emit(`manifest eligible for deletion: {${m.name} ${m.digest} [${m.tags.join(' ')}]}`);
  if (!opts.dryRun) for (const m of manifests) await st.removeRevision(m.name, m.digest);

  const sweep = (await digestsIn(st.paths.blobsDir)).filter((d) => !marked.has(d));
  emit(`\n${marked.size} blobs marked, ${sweep.length} blobs and ${manifests.length} manifests eligible for deletion`);
  for (const d of sweep) {
    emit(`blob eligible for deletion: ${d}`);
    if (!opts.dryRun) await st.content.delete(d);
  }
  for (const [repo, links] of deleteLayers) {
    for (const d of links) {
      emit(`${repo}: layer link eligible for deletion: ${d}`);
      if (!opts.dryRun) await fsp.rm(st.paths.layerLink(repo, d), { force: true });
    }
  }
}

/** The sha256 digests named by the files of a `.../sha256/` directory (none when it is missing). */
async function digestsIn(dir: string): Promise<string[]> {
  let names: string[];
  try { names = await fsp.readdir(dir); } catch { return []; }
  return names.map((n) => `sha256:${n}`).filter(isDigestString).sort();
}

async function exists(file: string): Promise<boolean> {
  try { await fsp.access(file); return true; } catch { return false; }
}

/**
 * `serve` records itself as `<root>/servers/<pid>` ({"readOnly"}) while it runs; the record is removed
 * when it stops, and one whose process is gone (a crash) counts for nothing.
 */
export async function recordServer(st: RegistryStorage, readOnly: boolean): Promise<() => void> {
  const file = st.paths.server(process.pid);
  await fsp.mkdir(path.dirname(file), { recursive: true, mode: 0o755 });
  await writeFileAtomic(file, JSON.stringify({ readOnly }), 0o644);
  return () => { fs.rmSync(file, { force: true }); };
}

async function writableServers(st: RegistryStorage): Promise<number[]> {
  const dir = st.paths.serversDir;
  let names: string[];
  try { names = await fsp.readdir(dir); } catch { return []; }
  const out: number[] = [];
  for (const n of names.filter((x) => /^\d+$/.test(x))) {
    const pid = Number(n);
    if (pid === process.pid || !(await isRegistryProcess(pid))) continue;
    let rec: { readOnly?: unknown };
    try { rec = JSON.parse(await fsp.readFile(path.join(dir, n), 'utf8')) as { readOnly?: unknown }; } catch { rec = {}; }
    if (rec.readOnly !== true) out.push(pid);
  }
  return out;
}

/** Alive and still a berth registry (a reused pid of another program does not count). */
async function isRegistryProcess(pid: number): Promise<boolean> {
  try { process.kill(pid, 0); } catch (err) { if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false; }
  try {
    const argv = (await fsp.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
    return argv.includes('registry') && argv.includes('serve');
  } catch {
    return true;
  }
}
