// The webhook side never calls GitHub, so its Octokit needs no REST methods, pagination,
// throttling, retry, config plugin or App authentication (which would load a JWT library).
// Probot gives it a placeholder token (see src/webhook-handler.ts); token auth is all it needs,
// plus the two requests Probot makes of it: `event-octokit` (the octokit for an event's
// context; with a token, the same instance) and a `factory` for an installation's.
const { Octokit } = require('@octokit/core');
const { createTokenAuth } = require('@octokit/auth-token');

function placeholderTokenAuth({ token, octokit, octokitOptions }) {
  const tokenAuth = createTokenAuth(token);
  const auth = async (options = {}) => {
    if (options.type === 'event-octokit') return octokit;
    if (options.factory) return options.factory({ ...options, octokit, octokitOptions });
    return tokenAuth();
  };
  return Object.assign(auth, { hook: tokenAuth.hook });
}

exports.ProbotOctokit = Octokit.defaults({ authStrategy: placeholderTokenAuth });
