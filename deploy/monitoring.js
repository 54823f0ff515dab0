// @ts-check
'use strict';
// Alarms and the CloudWatch dashboard.

const alarmActions = {
  'Fn::If': ['HasAlarmEmail', [{ Ref: 'AlarmTopic' }], { Ref: 'AWS::NoValue' }],
};

/**
 * An alarm when a metric's statistic over one period passes the threshold.
 * @param {{ namespace: string, metric: string, dimension: { Name: string, Value: unknown },
 *   statistic: string, period: number, threshold: number, description: string }} spec
 */
function alarm({ namespace, metric, dimension, statistic, period, threshold, description }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: [dimension],
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

/**
 * @param {string} fnId @param {string} metric @param {string} statistic @param {number} period
 * @param {number} threshold @param {string} description
 */
function lambdaAlarm(fnId, metric, statistic, period, threshold, description) {
  const dimension = { Name: 'FunctionName', Value: { Ref: fnId } };
  return alarm({
    namespace: 'AWS/Lambda',
    metric,
    dimension,
    statistic,
    period,
    threshold,
    description,
  });
}

/** @param {{ stage: string, functionIds: string[], runnerIds: string[] }} options */
function alarms({ stage, functionIds, runnerIds }) {
  /** @type {Record<string, unknown>} */
  const result = {};
  const name = (/** @type {string} */ id) => id.replace(/LambdaFunction$/, '');
  for (const id of functionIds) {
    result[`${name(id)}ErrorsAlarm`] = lambdaAlarm(
      id,
      'Errors',
      'Sum',
      300,
      5,
      `lambda-runner ${stage}: more than 5 errors in 5 minutes`,
    );
    result[`${name(id)}ThrottlesAlarm`] = lambdaAlarm(
      id,
      'Throttles',
      'Sum',
      60,
      0,
      `lambda-runner ${stage}: invocations throttled`,
    );
  }
  for (const id of runnerIds) {
    result[`${name(id)}DurationAlarm`] = lambdaAlarm(
      id,
      'Duration',
      'Maximum',
      60,
      840000,
      `lambda-runner ${stage}: a runner ran over 840 s, close to the 900 s Lambda limit`,
    );
  }
  result.DeadLetterQueueAlarm = alarm({
    namespace: 'AWS/SQS',
    metric: 'ApproximateNumberOfMessagesVisible',
    dimension: {
      Name: 'QueueName',
      Value: { 'Fn::GetAtt': ['RunnerDeadLetterQueue', 'QueueName'] },
    },
    statistic: 'Maximum',
    period: 60,
    threshold: 0,
    description: `lambda-runner ${stage}: runner events failed and wait in the dead-letter queue`,
  });
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
