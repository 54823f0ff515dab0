// Builds the runner image by hand, with the same pinned build arguments `serverless deploy`
// passes: the runner release and its checksum (deploy/runner-release.json), the SAM CLI
// version, and the base image digest (BASE_IMAGE_DIGEST, required). PLATFORM picks the
// architecture: linux/amd64 (default) or linux/arm64.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

const release = JSON.parse(readFileSync('deploy/runner-release.json', 'utf8'));
const platform = process.env.PLATFORM ?? 'linux/amd64';
const digest = process.env.BASE_IMAGE_DIGEST ?? '';
if (!/^sha256:[0-9a-f]{64}$/.test(digest)) {
  console.error(
    'lambda-runner: set BASE_IMAGE_DIGEST=sha256:<digest> (docker buildx imagetools inspect public.ecr.aws/lambda/nodejs:22)',
  );
  process.exit(1);
}
const arch = platform === 'linux/arm64' ? 'arm64' : 'x64';
const args = [
  'build',
  `--platform=${platform}`,
  '--provenance=false',
  '-f',
  'runner/Dockerfile',
  '-t',
  process.env.IMAGE_NAME ?? `lambda-runner-runner:${release.version}-${arch}`,
  '--build-arg',
  `BASE_IMAGE_DIGEST=${digest}`,
  '--build-arg',
  `RUNNER_VERSION=${release.version}`,
  '--build-arg',
  `RUNNER_SHA256=${release.sha256[arch]}`,
  '--build-arg',
  `SAM_CLI_VERSION=${release.samCliVersion}`,
  '.',
];
process.exit(spawnSync('docker', args, { stdio: 'inherit' }).status ?? 1);
