// The stockpipe pipeline from TypeScript: the program brings its own bucket and topic and
// composes the package's three components (docs/package.md).
import * as aws from "@pulumi/aws";
import * as pulumi from "@pulumi/pulumi";
import * as stockpipe from "@pulumi/stockpipe";

const config = new pulumi.Config();
const region = new pulumi.Config("aws").require("region");
const account = aws.getCallerIdentityOutput().accountId;

const lake = new aws.s3.Bucket("lake", { forceDestroy: false });
new aws.s3.BucketPublicAccessBlock("lake-public-access", {
    bucket: lake.id,
    blockPublicAcls: true,
    blockPublicPolicy: true,
    ignorePublicAcls: true,
    restrictPublicBuckets: true,
});
const alerts = new aws.sns.Topic("alerts");

const ingestion = new stockpipe.IngestionComponent("ingest", {
    apiKey: config.requireSecret("alphaVantageApiKey"),
    bucketName: lake.bucket,
    bucketArn: lake.arn,
    alertTopicArn: alerts.arn,
    accountId: account,
    metricsNamespace: `stockpipe-ts/${pulumi.getStack()}`,
    symbols: ["NVDA", "AMD", "AVGO"],
    callsPerMinute: 5,
    outputSize: "compact",
    schedule: "cron(0 22 ? * MON-FRI *)",
    scheduleTimezone: "America/New_York",
    successBusArn: pulumi.interpolate`arn:aws:events:${region}:${account}:event-bus/default`,
});

const wap = new stockpipe.WapWorkflowComponent("wap", {
    bucketName: lake.bucket,
    bucketArn: lake.arn,
    alertTopicArn: alerts.arn,
    accountId: account,
    region: region,
    functionArn: ingestion.functionArn,
    databaseName: "stockpipe_ts",
    metricsNamespace: `stockpipe-ts/${pulumi.getStack()}`,
    symbols: ["NVDA", "AMD", "AVGO"],
    freshnessMaxAgeDays: 4,
    protectData: true,
});

const dashboard = new stockpipe.DashboardComponent("grafana", {
    grafana: {
        mode: "managed",
        authProvider: "AWS_SSO",
        adminGroupIds: ["g-stockpipe-admins"],
    },
    region: region,
    accountId: account,
    databaseName: wap.databaseName,
    workgroupName: wap.analyticsWorkgroup,
    bucketName: lake.bucket,
    bucketArn: lake.arn,
    title: "stockpipe (TypeScript)",
});

export const functionName = ingestion.functionName;
export const workflowName = wap.workflowName;
export const dashboardUrl = dashboard.dashboardUrl;
