// Preloaded by `npm start`: the App manifest that Probot's setup page sends to GitHub asks for
// the one runner permission the chosen scope needs, never both. app.yml holds the repository
// scope (`administration: write`); with Probot's GH_ORG set, the App is made for an
// organisation and asks for `organization_self_hosted_runners: write` instead.
'use strict';
const { ManifestCreation } = require('probot/lib/manifest-creation.js');

/** The manifest's permissions for the scope that `env` chooses. */
function scopePermissions(permissions, env) {
  const { administration, organization_self_hosted_runners: org, ...rest } = permissions ?? {};
  return env.GH_ORG
    ? { ...rest, organization_self_hosted_runners: org ?? administration ?? 'write' }
    : { ...rest, administration: administration ?? org ?? 'write' };
}

const getManifest = ManifestCreation.prototype.getManifest;
ManifestCreation.prototype.getManifest = function scopedManifest(pkg, baseUrl) {
  const manifest = JSON.parse(getManifest.call(this, pkg, baseUrl));
  manifest.default_permissions = scopePermissions(manifest.default_permissions, process.env);
  return JSON.stringify(manifest);
};

module.exports = { scopePermissions };
