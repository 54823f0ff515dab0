import { constants } from 'node:fs';
import { copyFile, cp, mkdir, readdir, symlink } from 'node:fs/promises';
import path from 'node:path';

/**
 * Lays out a runner root under a writable directory from the read-only runner in `sourceDir`.
 *
 * `copy` copies everything (slow: the runner is ~250 MB). `link` copies only what must be real
 * and symlinks the rest, read-only, to the source. What must be real, from actions/runner:
 * - the root itself: the listener writes `.runner`, `.credentials*`, `_diag/` and `_work/` there;
 * - `bin/`: the root is the parent of the directory of the executable's resolved path
 *   (HostContext: Root = parent of Bin), so `bin/` is a real directory, and the executables in it
 *   (Runner.Listener, Runner.Worker, Runner.PluginHost: .NET app hosts that resolve their own
 *   path, plus their entry assemblies `Runner.*`) are copies. The .NET runtime and libraries
 *   beside them are only loaded, so they stay links;
 * - the top-level scripts (`config.sh`, `env.sh`, `run.sh`, ...): they resolve symlinks to find
 *   their own directory and `cd` there, so a link would configure the runner in the source.
 * `externals/` (node for actions) and every other directory stay links.
 * The image build runs the real `bin/Runner.Listener --version` from this layout to prove it.
 */
export async function prepareRunnerRoot(
  sourceDir: string,
  root: string,
  layout: 'link' | 'copy',
): Promise<void> {
  if (layout === 'copy') {
    await cp(sourceDir, root, {
      recursive: true,
      verbatimSymlinks: true,
      mode: constants.COPYFILE_FICLONE,
    });
    return;
  }
  await mkdir(root, { recursive: true });
  for (const entry of await readdir(sourceDir, { withFileTypes: true })) {
    const from = path.join(sourceDir, entry.name);
    const to = path.join(root, entry.name);
    if (entry.name === 'bin' && entry.isDirectory()) await linkBin(from, to);
    else if (entry.isDirectory()) await symlink(from, to, 'dir');
    else await copyFile(from, to);
  }
}

async function linkBin(sourceBin: string, bin: string): Promise<void> {
  await mkdir(bin);
  await Promise.all(
    (await readdir(sourceBin, { withFileTypes: true })).map((entry) => {
      const from = path.join(sourceBin, entry.name);
      const to = path.join(bin, entry.name);
      if (entry.isFile() && mustCopy(entry.name)) return copyFile(from, to);
      return symlink(from, to, entry.isDirectory() ? 'dir' : 'file');
    }),
  );
}

/** The runner's own programs and entry assemblies: `Runner.Listener`, `Runner.Worker.dll`, ... */
export function mustCopy(fileName: string): boolean {
  return fileName.startsWith('Runner.');
}
