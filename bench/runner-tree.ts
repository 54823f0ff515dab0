import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createFakeRunnerTree } from '../test/support/fake-runner-tree';

/**
 * A synthetic runner tree the size of a real release (actions-runner-linux-x64 unpacks to about
 * 260 MB in some 3,000 files): `bin/` holds the .NET runtime (about 400 files, 110 MB), and
 * `externals/` the node versions for actions (about 2,700 files, 150 MB).
 */
export async function createRealisticRunnerTree(
  dir: string,
): Promise<{ files: number; bytes: number }> {
  await createFakeRunnerTree(dir);
  const groups = [
    { where: 'bin', count: 400, size: 275_000, name: (i: number) => `System.Synthetic.${i}.dll` },
    {
      where: 'externals/node20/lib/node_modules',
      count: 1350,
      size: 55_000,
      name: (i: number) => `m${i % 40}/f${i}.js`,
    },
    {
      where: 'externals/node24/lib/node_modules',
      count: 1350,
      size: 55_000,
      name: (i: number) => `m${i % 40}/f${i}.js`,
    },
  ];
  let files = 0;
  let bytes = 0;
  for (const group of groups) {
    const content = Buffer.alloc(group.size, 0x5a);
    for (let i = 0; i < group.count; i += 1) {
      const file = path.join(dir, group.where, group.name(i));
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
      files += 1;
      bytes += group.size;
    }
  }
  return { files, bytes };
}
