import { METADATA_IP } from "../network";

/** Where the lab's S3 server listens: beside the AWS endpoint, which members reach through the deployer. */
export const LAB_S3_PORT = 9000;

/**
 * The AWS CLI inside a lab machine, at /usr/local/bin/aws (before /usr/bin on PATH): Debian's real
 * one, given the lab's endpoint for each service the members call. The lab has no amazonaws.com,
 * and CLI 2.9 reads no endpoint from the environment or its config (that came with 2.13), so the
 * endpoint has to be on the command line; a caller's own --endpoint-url wins.
 */
export const AWS_CLI_WRAPPER = `#!/bin/sh
# The etcd lab: the real AWS CLI, sent to the lab's endpoints (there is no AWS here).
service= skip=
for arg in "$@"; do
  if [ -n "$skip" ]; then skip=; continue; fi
  case "$arg" in
    --endpoint-url | --endpoint-url=*) exec /usr/bin/aws "$@" ;;
    --region | --output | --query | --profile | --color | --ca-bundle | --cli-connect-timeout | --cli-read-timeout | --cli-binary-format) skip=1 ;;
    -*) ;;
    *) [ -n "$service" ] || service=$arg ;;
  esac
done
case "$service" in
  ssm | cloudwatch) exec /usr/bin/aws --endpoint-url http://${METADATA_IP} "$@" ;;
  s3 | s3api) exec /usr/bin/aws --endpoint-url http://${METADATA_IP}:${LAB_S3_PORT} "$@" ;;
  *) exec /usr/bin/aws "$@" ;;
esac
`;
