// @ts-check
'use strict';
// The webhook secret and the App credentials, each its own secret, both under the stack's KMS key.

/** The two secrets, KMS-encrypted with the stack's own key. */
function secrets(/** @type {string} */ stage) {
  return {
    SecretsKey: {
      Type: 'AWS::KMS::Key',
      Properties: {
        Description: `lambda-runner ${stage}: encrypts the webhook secret and the GitHub App key`,
        EnableKeyRotation: true,
        KeyPolicy: {
          Version: '2012-10-17',
          Statement: [
            {
              Sid: 'AccountAdministers',
              Effect: 'Allow',
              Principal: {
                AWS: { 'Fn::Sub': 'arn:${AWS::Partition}:iam::${AWS::AccountId}:root' },
              },
              Action: 'kms:*',
              Resource: '*',
            },
          ],
        },
      },
    },
    WebhookSecret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `lambda-runner/${stage}/webhook-secret`,
        Description: 'GitHub App webhook secret (a plain string); set by npm run deploy:secrets',
        KmsKeyId: { Ref: 'SecretsKey' },
        GenerateSecretString: { PasswordLength: 40, ExcludePunctuation: true },
      },
    },
    AppSecret: {
      Type: 'AWS::SecretsManager::Secret',
      Properties: {
        Name: `lambda-runner/${stage}/github-app`,
        Description: 'GitHub App credentials {"appId","privateKey"}; set by npm run deploy:secrets',
        KmsKeyId: { Ref: 'SecretsKey' },
        SecretString: '{"appId":"","privateKey":""}',
      },
    },
  };
}

module.exports = { secrets };
