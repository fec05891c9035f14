"""Documents on S3: metadata in DynamoDB, bytes in S3, moved by presigned POST and GET."""
