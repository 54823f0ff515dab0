import { chmod, copyFile, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** config.sh as the real one behaves: it resolves its own symlinks, `cd`s there, then configures. */
const CONFIG_SH = `#!/bin/bash
SOURCE="\${BASH_SOURCE[0]}"
while [ -h "$SOURCE" ]; do
  DIR="$( cd -P "$( dirname "$SOURCE" )" && pwd )"
  SOURCE="$(readlink "$SOURCE")"
  [[ $SOURCE != /* ]] && SOURCE="$DIR/$SOURCE"
done
DIR="$( cd -P "$( dirname "$SOURCE" )" && pwd )"
cd "$DIR"
source ./env.sh
./bin/Runner.Listener configure "$@"
`;

const ENV_SH = `#!/bin/bash
[ -f .env ] || touch .env
echo "LANG=C.UTF-8" > .env
echo "$PATH" > .path
`;

/** What a fresh fake tree holds at its top; a runner that wrote into its source would add to it. */
export const PRISTINE_TREE = ['bin', 'config.sh', 'env.sh', 'externals', 'run.sh', 'safe_sleep.sh'];

/**
 * Writes a runner tree shaped like actions/runner's release: the fake listener as
 * `bin/Runner.Listener`, other `Runner.*` programs and assemblies, runtime libraries, and
 * `externals/`. `padding` adds bytes to the runtime files, for a tree of realistic size.
 */
export async function createFakeRunnerTree(
  dir: string,
  options: { runtimeFiles?: number; externalsFiles?: number; padding?: number } = {},
) {
  const sizes = { runtimeFiles: 12, externalsFiles: 6, padding: 16, ...options };
  const filler = Buffer.alloc(sizes.padding, 7);
  await mkdir(path.join(dir, 'bin', 'hashFiles'), { recursive: true });
  await mkdir(path.join(dir, 'externals', 'node20', 'bin'), { recursive: true });
  await copyFile(
    path.join(__dirname, 'fake-runner', 'Runner.Listener.js'),
    path.join(dir, 'bin', 'Runner.Listener'),
  );
  await chmod(path.join(dir, 'bin', 'Runner.Listener'), 0o755);
  const files: [string, string | Buffer, number?][] = [
    ['bin/Runner.Worker', '#!/bin/sh\nexit 0\n', 0o755],
    ['bin/Runner.PluginHost', '#!/bin/sh\nexit 0\n', 0o755],
    ['bin/Runner.Listener.dll', filler],
    ['bin/Runner.Worker.dll', filler],
    ['bin/Runner.Common.dll', filler],
    ['bin/hashFiles/index.js', 'module.exports = {};\n'],
    ['config.sh', CONFIG_SH, 0o755],
    ['env.sh', ENV_SH, 0o755],
    ['run.sh', '#!/bin/bash\nexec ./bin/Runner.Listener run "$@"\n', 0o755],
    ['safe_sleep.sh', '#!/bin/bash\nsleep "$1"\n', 0o755],
  ];
  for (let i = 0; i < sizes.runtimeFiles; i += 1)
    files.push([`bin/System.Runtime.${i}.dll`, filler]);
  for (let i = 0; i < sizes.externalsFiles; i += 1)
    files.push([`externals/node20/lib/module-${i}.js`, filler]);
  await mkdir(path.join(dir, 'externals', 'node20', 'lib'), { recursive: true });
  for (const [name, content, mode = 0o644] of files)
    await writeFile(path.join(dir, name), content, { mode });
}
