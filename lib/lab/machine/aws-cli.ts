/**
 * What stands in for the AWS CLI inside a lab machine: `aws ssm get-parameter`, the one call a
 * member's boot script makes, answered by the lab's AWS endpoint (see aws-endpoint.js) at the
 * instance-metadata address, which tells the instance apart by its private IP. It prints what the
 * real CLI prints for `--query Parameter.Value --output text`, and the real CLI's error line and
 * exit status (254) for a refusal, so fetch_key's retry and its messages run as on EC2.
 */
export const AWS_CLI_STANDIN = `#!/bin/sh
# The etcd lab's stand-in for the AWS CLI: only 'aws ssm get-parameter', served by the lab.
set -u
[ "\${1-} \${2-}" = "ssm get-parameter" ] || { echo "lab aws: only 'aws ssm get-parameter' is modelled, not: aws $*" >&2; exit 252; }
shift 2
name= region= query= output= decrypt=false
while [ $# -gt 0 ]; do
  case "$1" in
    --name) name=\${2-}; shift ;;
    --region) region=\${2-}; shift ;;
    --query) query=\${2-}; shift ;;
    --output) output=\${2-}; shift ;;
    --with-decryption) decrypt=true ;;
    --cli-connect-timeout) shift ;;
    *) echo "lab aws: unsupported argument $1" >&2; exit 252 ;;
  esac
  shift
done
[ -n "$name" ] || { echo "aws: error: the following arguments are required: --name" >&2; exit 252; }
[ "$query $output" = "Parameter.Value text" ] || { echo "lab aws: only --query Parameter.Value --output text is modelled" >&2; exit 252; }
body=$(mktemp) || exit 255
trap 'rm -f "$body"' EXIT
code=$(curl -sS -m 10 -o "$body" -w '%{http_code}' --get \\
  --data-urlencode "name=$name" --data-urlencode "region=$region" --data-urlencode "decrypt=$decrypt" \\
  http://169.254.169.254/lab/ssm/get-parameter) || {
  echo "Could not connect to the endpoint URL: \\"https://ssm.$region.amazonaws.com/\\"" >&2; exit 255; }
if [ "$code" != 200 ]; then
  echo "An error occurred ($(head -n 1 "$body")) when calling the GetParameter operation: $(tail -n +2 "$body")" >&2
  exit 254
fi
cat "$body"
[ -z "$(tail -c 1 "$body")" ] || echo
`;
