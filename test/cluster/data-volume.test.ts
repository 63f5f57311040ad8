// What `dataVolume` adds to the synthesized stack: a gp3 volume per member that is not replaced
// with its VM, an attachment that stops the VM before it lets go of the volume, and the volume id
// in the member's user data, where its boot script finds the device by it.
import { memberFiles, NODE4, resources, SEED, synthCluster, instanceOf } from "../support/synth";

const volumes = (json: any) => Object.entries(resources(json, "aws_ebs_volume")) as [string, any][];
const attachments = (json: any) => Object.values(resources(json, "aws_volume_attachment")) as any[];
const volumeOf = (json: any, member: string) => volumes(json).find(([, v]) => v.tags["etcd:member"] === member)!;

describe("the default: a data volume per member", () => {
  const { json } = synthCluster();

  test("THEN each member has a 20 GiB gp3 volume at gp3's baseline, encrypted, snapshotted before Terraform deletes it", () => {
    expect(volumes(json)).toHaveLength(SEED.length);
    for (const member of SEED) {
      const [, volume] = volumeOf(json, member.name);
      expect(volume).toMatchObject({ type: "gp3", size: 20, iops: 3000, throughput: 125, encrypted: true, final_snapshot: true, count: 1 });
      expect(volume.kms_key_id).toBeUndefined();
      expect(volume.lifecycle).toBeUndefined();
      expect(volume.tags).toMatchObject({
        Name: `${member.name}-data`,
        "etcd:member": member.name,
        "etcd:cluster": expect.stringMatching(/^etcd-/),
      });
    }
  });

  test("THEN the volume is in its subnet's zone, known at plan time: never the instance's, which a replacement makes unknown", () => {
    const subnet = Object.keys(resources(json, "aws_subnet"))[0];
    for (const [, volume] of volumes(json)) expect(volume.availability_zone).toBe(`\${aws_subnet.${subnet}.availability_zone}`);
  });

  test("THEN each attachment joins a member's volume to its instance, and stops the instance before it detaches", () => {
    for (const member of SEED) {
      const [volumeId] = volumeOf(json, member.name);
      const instance = Object.entries(resources(json, "aws_instance")).find(
        ([, i]: [string, any]) => i.tags["etcd:member"] === member.name
      )![0];
      const attachment = attachments(json).find((a) => a.volume_id === `\${aws_ebs_volume.${volumeId}[0].id}`);
      expect(attachment).toMatchObject({
        device_name: "/dev/sdf",
        instance_id: `\${aws_instance.${instance}[0].id}`,
        stop_instance_before_detaching: true,
        count: 1,
      });
    }
  });

  test("THEN each member's voter step depends on its attachment: a destroy removes the member from etcd before the attachment stops its VM", () => {
    const voters = Object.entries(resources(json, "terraform_data")).filter(([id]) => id.includes("voter")) as [string, any][];
    expect(voters).toHaveLength(SEED.length);
    for (const member of SEED) {
      const [voterId, voter] = voters.find(([id]) => id.includes(`${member.name}-membership`))!;
      const [volumeId] = volumeOf(json, member.name);
      const attachment = Object.entries(resources(json, "aws_volume_attachment")).find(
        ([, a]: [string, any]) => a.volume_id === `\${aws_ebs_volume.${volumeId}[0].id}`
      )![0];
      expect(voter.depends_on).toContain(`aws_volume_attachment.${attachment}`);
      expect(voterId).toMatch(/voter/);
    }
  });

  test("THEN the member's user data names its own volume, and the instance tags its root volume only", () => {
    for (const member of SEED) {
      const [volumeId] = volumeOf(json, member.name);
      expect(memberFiles(json, member.name).get("/etc/etcd/data-volume.conf")).toBe(
        `VOLUME='\${aws_ebs_volume.${volumeId}[0].id}'\nMOUNT_POINT='/var/lib/etcd'\n`
      );
      // volume_tags would claim the data volume's tags too, and each apply would put them back.
      expect(instanceOf(json, member.name).volume_tags).toBeUndefined();
      expect(instanceOf(json, member.name).root_block_device.tags).toEqual({ "etcd:cluster": expect.stringMatching(/^etcd-/) });
    }
  });
});

describe("dataVolume options", () => {
  test("GIVEN size, IOPS, throughput and a customer key THEN every volume has them", () => {
    const key = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab";
    const { json } = synthCluster({ dataVolume: { sizeGiB: 50, iops: 6000, throughputMiBps: 250, kmsKeyId: key } });
    for (const [, volume] of volumes(json))
      expect(volume).toMatchObject({ size: 50, iops: 6000, throughput: 250, kms_key_id: key, encrypted: true });
  });

  test('GIVEN onDestroy "retain" THEN Terraform refuses to destroy a volume; "delete" takes no snapshot', () => {
    for (const [, volume] of volumes(synthCluster({ dataVolume: { onDestroy: "retain" } }).json)) {
      expect(volume.lifecycle).toEqual({ prevent_destroy: true });
    }
    for (const [, volume] of volumes(synthCluster({ dataVolume: { onDestroy: "delete" } }).json)) {
      expect(volume.final_snapshot).toBe(false);
      expect(volume.lifecycle).toBeUndefined();
    }
  });

  test("GIVEN a member removed THEN its volume and attachment keep their blocks with count 0: the volume goes (with its snapshot) with the member", () => {
    const { json } = synthCluster({ members: [...SEED, { ...NODE4, removed: true }] });
    expect(volumeOf(json, NODE4.name)[1].count).toBe(0);
    expect(attachments(json).filter((a) => a.count === 0)).toHaveLength(1);
  });

  test("GIVEN members in the user's subnets THEN each subnet's zone is looked up once", () => {
    const { json } = synthCluster({
      vpcId: "vpc-0123456789abcdef0",
      subnetId: "subnet-0aaaaaaaaaaaaaaaa",
      members: [SEED[0], SEED[1], { ...SEED[2], subnetId: "subnet-0bbbbbbbbbbbbbbbb" }],
    });
    const lookups = Object.entries(json.data.aws_subnet) as [string, any][];
    expect(lookups.map(([, d]) => d.id).sort()).toEqual(["subnet-0aaaaaaaaaaaaaaaa", "subnet-0bbbbbbbbbbbbbbbb"]);
    const zoneOf = (subnet: string) => `\${data.aws_subnet.${lookups.find(([, d]) => d.id === subnet)![0]}.availability_zone}`;
    expect(volumeOf(json, SEED[0].name)[1].availability_zone).toBe(zoneOf("subnet-0aaaaaaaaaaaaaaaa"));
    expect(volumeOf(json, SEED[2].name)[1].availability_zone).toBe(zoneOf("subnet-0bbbbbbbbbbbbbbbb"));
  });

  test("GIVEN dataVolume false THEN there is no volume, no attachment and nothing in the user data mounts one", () => {
    const { json } = synthCluster({ dataVolume: false });
    expect(volumes(json)).toEqual([]);
    expect(attachments(json)).toEqual([]);
    for (const member of SEED) {
      expect(memberFiles(json, member.name).has("/etc/etcd/data-volume.conf")).toBe(false);
      expect(memberFiles(json, member.name).get("/etc/systemd/system/etcd.service")).not.toContain("RequiresMountsFor");
    }
  });
});
