/**
 * A shell function for the member's scripts: the instance's region, from IMDSv2 (the instances
 * require session tokens). A function of its own, so a rehearsal can stand in for IMDS.
 */
export const INSTANCE_REGION_FUNCTION = `instance_region() {
  u=http://169.254.169.254/latest
  t=$(curl -fsS -m 5 -X PUT -H 'X-aws-ec2-metadata-token-ttl-seconds: 60' $u/api/token) &&
    curl -fsS -m 5 -H "X-aws-ec2-metadata-token: $t" $u/meta-data/placement/region
}
`;
