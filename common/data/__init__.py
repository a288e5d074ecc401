"""DynamoDB data access: the only place boto3's DynamoDB client is used."""
