// @ts-check
'use strict';
// Alarms and the CloudWatch dashboard.

const alarmActions = {
  'Fn::If': ['HasAlarmEmail', [{ Ref: 'AlarmTopic' }], { Ref: 'AWS::NoValue' }],
};

/**
 * @param {string} metric @param {string} fnId @param {string} statistic @param {number} period
 * @param {number} threshold @param {string} description
 */
function lambdaAlarm(metric, fnId, statistic, period, threshold, description) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      Namespace: 'AWS/Lambda',
      MetricName: metric,
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: fnId } }],
      Statistic: statistic,
      Period: period,
      EvaluationPeriods: 1,
      Threshold: threshold,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions,
    },
  };
}

/** @param {{ stage: string, functionIds: string[], runnerIds: string[] }} options */
function alarms({ stage, functionIds, runnerIds }) {
  /** @type {Record<string, unknown>} */
  const result = {};
  for (const id of functionIds) {
    const name = id.replace(/LambdaFunction$/, '');
    result[`${name}ErrorsAlarm`] = lambdaAlarm(
      'Errors',
      id,
      'Sum',
      300,
      5,
      `lambda-runner ${stage}: more than 5 errors in 5 minutes`,
    );
    result[`${name}ThrottlesAlarm`] = lambdaAlarm(
      'Throttles',
      id,
      'Sum',
      60,
      0,
      `lambda-runner ${stage}: invocations throttled`,
    );
  }
  for (const id of runnerIds) {
    const name = id.replace(/LambdaFunction$/, '');
    result[`${name}DurationAlarm`] = lambdaAlarm(
      'Duration',
      id,
      'Maximum',
      60,
      840000,
      `lambda-runner ${stage}: a runner ran over 840 s, close to the 900 s Lambda limit`,
    );
  }
  result.DeadLetterQueueAlarm = {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: `lambda-runner ${stage}: runner events failed and wait in the dead-letter queue`,
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': ['RunnerDeadLetterQueue', 'QueueName'] } },
      ],
      Statistic: 'Maximum',
      Period: 60,
      EvaluationPeriods: 1,
      Threshold: 0,
      ComparisonOperator: 'GreaterThanThreshold',
      TreatMissingData: 'notBreaching',
      AlarmActions: alarmActions,
    },
  };
  return result;
}

/** @param {{ stage: string, region: string, webhookName: string, runnerNames: string[] }} options */
function dashboard({ stage, region, webhookName, runnerNames }) {
  const names = [webhookName, ...runnerNames];
  const widget = (/** @type {string} */ title, /** @type {unknown[][]} */ metrics, y = 0) => ({
    type: 'metric',
    width: 12,
    height: 6,
    y,
    properties: { title, region, view: 'timeSeries', stat: 'Sum', period: 60, metrics },
  });
  const perFunction = (
    /** @type {string} */ metric,
    /** @type {Record<string, string>} */ extra = {},
  ) => names.map((name) => ['AWS/Lambda', metric, 'FunctionName', name, extra]);
  const body = {
    widgets: [
      widget('Invocations', perFunction('Invocations')),
      widget('Errors', perFunction('Errors')),
      widget(
        'Duration p50 / p95 / p99',
        ['p50', 'p95', 'p99'].flatMap((stat) =>
          names.map((name) => ['AWS/Lambda', 'Duration', 'FunctionName', name, { stat }]),
        ),
        6,
      ),
      widget('Concurrent executions', perFunction('ConcurrentExecutions', { stat: 'Maximum' }), 6),
      widget('Throttles', perFunction('Throttles'), 12),
    ],
  };
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: { DashboardName: `lambda-runner-${stage}`, DashboardBody: JSON.stringify(body) },
  };
}

module.exports = { alarms, dashboard };
