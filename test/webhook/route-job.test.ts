import { routeJob } from '../../src/route-job';
import type { RunnerProfile } from '../../src/profiles';

const seed: RunnerProfile = {
  name: 'default',
  labels: ['self-hosted', 'lambda-runner', 'linux', 'x64', 'aws-cli', 'sam-cli', 'python', 'node'],
  functionName: 'runner',
};
const gpu: RunnerProfile = {
  name: 'gpu',
  labels: ['lambda-runner', 'gpu'],
  functionName: 'gpu-runner',
};
const wide: RunnerProfile = {
  name: 'wide',
  labels: ['lambda-runner', 'gpu', 'linux'],
  functionName: 'wide-runner',
};

describe('routeJob', () => {
  const table: [string, string[], RunnerProfile[], string | RegExp][] = [
    ['exact required label only', ['lambda-runner'], [seed], 'default'],
    [
      'a subset of the profile',
      ['self-hosted', 'lambda-runner', 'linux', 'x64'],
      [seed],
      'default',
    ],
    ['every label of the profile', [...seed.labels], [seed], 'default'],
    ['labels in another case', ['Self-Hosted', 'LAMBDA-RUNNER', 'Linux'], [seed], 'default'],
    ['duplicate labels', ['lambda-runner', 'lambda-runner', 'linux'], [seed], 'default'],
    [
      'a label the profile lacks',
      ['lambda-runner', 'arm64'],
      [seed],
      /no profile offers all of \[lambda-runner, arm64\]/,
    ],
    [
      'missing the required label',
      ['self-hosted', 'linux'],
      [seed],
      /do not include "lambda-runner"/,
    ],
    ['a bare self-hosted job', ['self-hosted'], [seed], /do not include/],
    ['no labels', [], [seed], /no labels/],
    ['first matching profile wins', ['lambda-runner', 'gpu'], [gpu, wide], 'gpu'],
    [
      'a later profile when the first lacks a label',
      ['lambda-runner', 'gpu', 'linux'],
      [gpu, wide],
      'wide',
    ],
    [
      'no profile among several',
      ['lambda-runner', 'gpu', 'x64'],
      [seed, gpu, wide],
      /no profile offers/,
    ],
  ];
  it.each(table)('%s', (_name, labels, profiles, expected) => {
    const route = routeJob(labels, profiles, 'lambda-runner');
    if (typeof expected === 'string') {
      expect(route).toEqual({
        matched: true,
        profile: expect.objectContaining({ name: expected }),
      });
    } else {
      expect(route).toEqual({
        matched: false,
        code: expect.any(String),
        reason: expect.stringMatching(expected),
      });
    }
  });

  it('honours another REQUIRED_LABEL in any case', () => {
    expect(routeJob(['ci-lambda'], [{ ...seed, labels: ['CI-Lambda'] }], 'Ci-Lambda').matched).toBe(
      true,
    );
    expect(routeJob(['lambda-runner'], [seed], 'ci-lambda').matched).toBe(false);
  });
});
