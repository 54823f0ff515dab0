// `REPO_URI=<ecr repository uri> npm run docker:push -- --stage S [--platform linux/arm64]
// [--target codebuild]`:
// pushes the image docker:build made for the stage's runner release lock, under the same
// <version>-<arch> tag, and prints the runnerImageUri parameter with the digest ECR stored.
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fail, imageStage } from './image-stage.mjs';

const { imageParam } = createRequire(import.meta.url)('../deploy/runner-image.js');

const { stage, arch, target, tag } = imageStage('docker:push');
const repo = process.env.REPO_URI;
if (!repo)
  fail(
    'docker:push: set REPO_URI to your ECR repository URI (<account>.dkr.ecr.<region>.amazonaws.com/<name>)',
  );
const remote = `${repo}:${tag.split(':')[1]}`;
const docker = (args, input) =>
  spawnSync('docker', args, {
    stdio: [input === undefined ? 'inherit' : 'pipe', 'inherit', 'inherit'],
    input,
  }).status === 0;
let password;
try {
  password = execFileSync('aws', ['ecr', 'get-login-password'], { encoding: 'utf8' });
} catch {
  fail(
    'docker:push: `aws ecr get-login-password` failed: install the AWS CLI and give it credentials for the account',
  );
}
if (!docker(['login', '--username', 'AWS', '--password-stdin', repo.split('/')[0]], password))
  fail(`docker:push: docker login to ${repo.split('/')[0]} failed`);
if (!docker(['tag', tag, remote]))
  fail(
    `docker:push: no local image ${tag}: run npm run docker:build -- --stage ${stage}${arch === 'arm64' ? ' --platform linux/arm64' : ''}${target === 'codebuild' ? ' --target codebuild' : ''} first`,
  );
if (!docker(['push', remote])) fail(`docker:push: docker push ${remote} failed`);
const digests = JSON.parse(
  execFileSync('docker', ['image', 'inspect', '--format', '{{json .RepoDigests}}', remote], {
    encoding: 'utf8',
  }) || '[]',
);
const pushed = (digests ?? []).find((entry) => entry.startsWith(`${repo}@sha256:`));
if (!pushed) fail(`docker:push: pushed ${remote}, but Docker shows no digest for ${repo}`);
const param = imageParam(arch, target);
console.log(`pushed ${remote}`);
console.log(`deploy with: --param="${param}=${pushed}"`);
