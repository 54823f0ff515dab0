// @ts-check
'use strict';
// Writes the stage file (parameters, region, profile file, runner release lock) only once a
// `serverless package` or `serverless deploy` has succeeded: a failed one leaves the stage as
// it was, so `explain` and `status` never describe a stage that was not made.
const { commitStageFile } = require('./stage-file');

class StageFilePlugin {
  /** @param {{ processedInput: { commands: string[] }, service: { provider: { stage: string } } }} serverless */
  constructor(serverless) {
    const command = serverless.processedInput.commands[0];
    const commit = () => commitStageFile(serverless.service.provider.stage);
    /** @type {Record<string, () => void>} */
    this.hooks = {};
    if (command === 'package') this.hooks['after:package:finalize'] = commit;
    if (command === 'deploy') this.hooks['after:deploy:deploy'] = commit;
  }
}

module.exports = StageFilePlugin;
