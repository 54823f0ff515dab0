// `npm run docker:build -- --stage S [--platform linux/arm64] [--target codebuild]`: builds the
// runner image (or the CodeBuild runner image, the same layers plus dockerd) by hand
// with the build arguments `serverless deploy` passes: the stage's runner release lock (version
// and this architecture's sha256, checked by the Dockerfile), the SAM CLI version, and the base
// image digest (the stage's baseImageDigest, else its lock, else the tag's digest today, which
// is then locked). Tags it lambda-runner-runner:<version>-<arch>, the tag docker:push pushes.
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fail, imageStage } from './image-stage.mjs';

const require = createRequire(import.meta.url);
const image = require('../deploy/runner-image.js');
const { updateStageFile } = require('../deploy/stage-file.js');

const { stage, platform, arch, target, release, saved, tag } = imageStage('docker:build');
const problem = image.dockerProblem();
if (problem) fail(`docker:build: ${problem}`);
let digest = saved.params?.baseImageDigest || saved.baseImage?.digest;
if (!digest) {
  try {
    digest = image.resolveBaseImageDigest();
  } catch (error) {
    fail(`docker:build: ${error.message.replace(/^lambda-runner: /, '')}`);
  }
  updateStageFile(stage, { baseImage: { image: image.BASE_IMAGE, digest } });
}
const buildArgs = Object.entries(image.buildArgs(release, arch, digest)).flatMap(
  ([name, value]) => ['--build-arg', `${name}=${value}`],
);
const args = [
  'build',
  `--platform=${platform}`,
  '--provenance=false',
  '-f',
  'runner/Dockerfile',
  '--target',
  target,
  '-t',
  tag,
  ...buildArgs,
  '.',
];
const status = spawnSync('docker', args, { stdio: 'inherit' }).status ?? 1;
if (status === 0)
  console.log(
    `built ${tag}; push it with: REPO_URI=<ecr repository uri> npm run docker:push -- --stage ${stage}${arch === 'arm64' ? ' --platform linux/arm64' : ''}${target === 'codebuild' ? ' --target codebuild' : ''}`,
  );
process.exit(status);
