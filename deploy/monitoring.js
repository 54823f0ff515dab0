// @ts-check
'use strict';
// Alarms and the CloudWatch dashboard.
const { ALARM_DAYS_BEHIND, MAX_DAYS_BEHIND } = require('./runner-release');

/** Alarms notify the topic only when the stage has an alarm e-mail; otherwise no one. */
let alarmActions = /** @type {unknown[]} */ ([]);

/**
 * An alarm when a metric's statistic over one period passes the threshold.
 * @param {{ namespace: string, metric: string,
 *   dimension: { Name: string, Value: unknown } | { Name: string, Value: unknown }[],
 *   statistic: string, period: number, threshold: number, description: string }} spec
 */
function alarm({ namespace, metric, dimension, statistic, period, threshold, description }) {
  return {
    Type: 'AWS::CloudWatch::Alarm',
    Properties: {
      AlarmDescription: description,
      Namespace: namespace,
      MetricName: metric,
      Dimensions: Array.isArray(dimension) ? dimension : [dimension],
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

/**
 * @param {{ stage: string, functionIds: string[], runnerIds: string[], notify: boolean,
 *   scheduledIds?: string[], profileNames?: string[] }} options
 */
function alarms({ stage, functionIds, runnerIds, notify, scheduledIds = [], profileNames = [] }) {
  alarmActions = notify ? [{ Ref: 'AlarmTopic' }] : [];
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
  Object.assign(result, asyncAlarms(stage, runnerIds, name));
  Object.assign(result, runnerCurrencyAlarms(stage, profileNames));
  for (const id of scheduledIds) {
    result[`${name(id)}ScheduleErrorsAlarm`] = lambdaAlarm(
      id,
      'Errors',
      'Sum',
      900,
      0,
      `lambda-runner ${stage}: a scheduled clean-up run failed, so orphans may pile up`,
    );
  }
  Object.assign(result, queueAlarms(stage));
  result.DeadLetterQueueAlarm = alarm({
    namespace: 'AWS/SQS',
    metric: 'ApproximateNumberOfMessagesVisible',
    dimension: {
      Name: 'QueueName',
      Value: { 'Fn::GetAtt': ['BrokerDeadLetterQueue', 'QueueName'] },
    },
    statistic: 'Maximum',
    period: 60,
    threshold: 0,
    description: `lambda-runner ${stage}: broker events failed past their retries and wait in the dead-letter queue`,
  });
  return result;
}

/**
 * The broker's queues falling behind: a queued job (dispatch queue) or a runner's end (settle
 * queue) waiting longer than ten minutes means the brokers cannot keep up, or GitHub keeps them
 * waiting (its rate limits).
 * @param {string} stage
 */
function queueAlarms(stage) {
  /** @type {Record<string, unknown>} */
  const result = {};
  for (const [queue, what] of [
    ['DispatchQueue', 'queued jobs'],
    ['SettleQueue', "runners' ends"],
  ]) {
    result[`${queue}AgeAlarm`] = alarm({
      namespace: 'AWS/SQS',
      metric: 'ApproximateAgeOfOldestMessage',
      dimension: { Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } },
      statistic: 'Maximum',
      period: 300,
      threshold: 600,
      description: `lambda-runner ${stage}: ${what} waited over 10 minutes for a broker (brokers behind, or GitHub's rate limit)`,
    });
  }
  return result;
}

/**
 * The runner release falling behind: the broker's daily `RunnerDaysBehind` for each profile
 * reaching the alarm day, ten days before GitHub stops sending that runner jobs.
 * @param {string} stage @param {string[]} profileNames
 */
function runnerCurrencyAlarms(stage, profileNames) {
  /** @type {Record<string, unknown>} */
  const result = {};
  profileNames.forEach((profile, index) => {
    result[`RunnerDaysBehindAlarm${index === 0 ? '' : index + 1}`] = alarm({
      namespace: 'LambdaRunner',
      metric: 'RunnerDaysBehind',
      dimension: [
        { Name: 'service', Value: 'broker' },
        { Name: 'profile', Value: profile },
      ],
      statistic: 'Maximum',
      period: 86400,
      threshold: ALARM_DAYS_BEHIND - 1,
      description: `lambda-runner ${stage}: profile ${profile}'s runner is ${ALARM_DAYS_BEHIND} or more days behind GitHub's latest release; GitHub stops sending it jobs at ${MAX_DAYS_BEHIND}: run npx lambda-runner runner-update --stage ${stage}, then deploy`,
    });
  });
  return result;
}

/**
 * Loss on the asynchronous path: events that waited on throttling, events Lambda dropped, and
 * destination records that could not be delivered.
 * @param {string} stage @param {string[]} runnerIds @param {(id: string) => string} name
 */
function asyncAlarms(stage, runnerIds, name) {
  /** @type {Record<string, unknown>} */
  const result = {};
  for (const id of runnerIds) {
    result[`${name(id)}AsyncEventAgeAlarm`] = lambdaAlarm(
      id,
      'AsyncEventAge',
      'Maximum',
      300,
      300000,
      `lambda-runner ${stage}: runner events waited over 5 minutes on capacity (throttling)`,
    );
    result[`${name(id)}AsyncEventsDroppedAlarm`] = lambdaAlarm(
      id,
      'AsyncEventsDropped',
      'Sum',
      300,
      0,
      `lambda-runner ${stage}: Lambda dropped runner events`,
    );
    result[`${name(id)}DestinationDeliveryFailuresAlarm`] = lambdaAlarm(
      id,
      'DestinationDeliveryFailures',
      'Sum',
      300,
      0,
      `lambda-runner ${stage}: runner results could not be delivered to their destination`,
    );
  }
  return result;
}

/**
 * @param {{ stage: string, region: string, webhookName: string, brokerName: string,
 *   runnerNames: string[] }} options
 */
function dashboard({ stage, region, webhookName, brokerName, runnerNames }) {
  const names = [webhookName, brokerName, ...runnerNames];
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
      // How long runner events waited on capacity (throttling) before a runner started: the
      // time a job waited for a runner that this stack, not GitHub, is answerable for.
      widget(
        'Async event age (time jobs waited on capacity)',
        runnerNames.map((name) => [
          'AWS/Lambda',
          'AsyncEventAge',
          'FunctionName',
          name,
          { stat: 'Maximum' },
        ]),
        12,
      ),
      // Jobs waiting for a broker, and runners' ends waiting to be settled.
      widget(
        'Broker queues: messages waiting, and the oldest (s)',
        ['dispatch', 'settle'].flatMap((queue) =>
          ['ApproximateNumberOfMessagesVisible', 'ApproximateAgeOfOldestMessage'].map((metric) => [
            'AWS/SQS',
            metric,
            'QueueName',
            `lambda-runner-${stage}-${queue}`,
            { stat: 'Maximum' },
          ]),
        ),
        18,
      ),
    ],
  };
  return {
    Type: 'AWS::CloudWatch::Dashboard',
    Properties: { DashboardName: `lambda-runner-${stage}`, DashboardBody: JSON.stringify(body) },
  };
}

module.exports = { alarms, dashboard };
