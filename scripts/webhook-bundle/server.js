// probot/lib/probot.js loads its HTTP server only for this constant.
exports.defaultWebhooksPath = '/api/github/webhooks';
