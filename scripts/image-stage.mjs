// What docker:build and docker:push agree on, for one stage and platform: the stage's runner
// release lock, the architecture, the image (`--target lambda`, the default, or `codebuild`) and
// the one local tag (lambda-runner-runner:<version>-<arch>, lambda-runner-codebuild:...).
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';

const require = createRequire(import.meta.url);
const { readStageFile } = require('../deploy/stage-file.js');
const { archOf, localTag } = require('../deploy/runner-image.js');

/** Ends the script with one message. */
export function fail(message) {
  process.stderr.write(`lambda-runner: ${message}\n`);
  process.exit(1);
}

/**
 * `--stage S [--platform linux/amd64|linux/arm64] [--target lambda|codebuild]` (or STAGE,
 * PLATFORM and TARGET).
 * @param {string} command the npm script, for messages
 */
export function imageStage(command, argv = process.argv.slice(2), env = process.env) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        stage: { type: 'string' },
        platform: { type: 'string' },
        target: { type: 'string' },
      },
    }));
  } catch (error) {
    fail(
      `${command}: ${error.message}; usage: npm run ${command} -- --stage S [--platform linux/arm64] [--target codebuild]`,
    );
  }
  const stage = values.stage ?? env.STAGE;
  if (!stage)
    fail(`${command}: --stage is required (the stage whose runner release lock to build)`);
  const platform = values.platform ?? env.PLATFORM ?? 'linux/amd64';
  if (!['linux/amd64', 'linux/arm64'].includes(platform))
    fail(`${command}: --platform must be linux/amd64 or linux/arm64, got "${platform}"`);
  const target = values.target ?? env.TARGET ?? 'lambda';
  if (!['lambda', 'codebuild'].includes(target))
    fail(`${command}: --target must be lambda or codebuild, got "${target}"`);
  const saved = readStageFile(stage, env);
  const release = saved.runnerRelease;
  if (!release)
    fail(
      `${command}: stage ${stage} has no runner release lock yet: run npx lambda-runner runner-update --stage ${stage} first`,
    );
  const arch = archOf(platform);
  return {
    stage,
    platform,
    arch,
    target,
    release,
    saved,
    tag: localTag(release.version, arch, target),
  };
}
