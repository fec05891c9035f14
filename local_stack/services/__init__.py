"""The emulated AWS services: the local AWS endpoint (moto behind the IAM check), API
Gateway and its authorizer, the Lambda API and its asynchronous invocation, S3, SNS, SQS and
stream event sources, Cognito, DynamoDB's additions, the RDS Data API, the database and its
proxy, the partner feed."""
