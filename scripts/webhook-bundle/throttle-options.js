// No GitHub calls on the webhook side, so no throttling (and no Redis client to load for it).
exports.getOctokitThrottleOptions = () => undefined;
