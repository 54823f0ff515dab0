// The webhook bundle's "probot": only the Probot class. The package's entry also loads the
// HTTP server, express, the setup app and the CLI, which a Lambda handler never uses.
module.exports = { Probot: require('probot/lib/probot.js').Probot };
