import { ref, type IResolvable, type TerraformResource } from "../cdktf";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- a mixin's base takes any constructor arguments
type ResourceClass = new (...args: any[]) => TerraformResource;

/**
 * The resource class, made for a resource with `count`: Terraform rejects `aws_x.y.id` on a
 * counted resource ("Missing resource instance key"), so every attribute reference it hands out
 * (`.id`, `.arn`, ...) names instance 0, the only one there is, and any other resource accepts it.
 */
export function counted<T extends ResourceClass>(Base: T): T {
  return class extends Base {
    interpolationForAttribute(terraformAttribute: string): IResolvable {
      return ref(`${this.terraformResourceType}.${this.friendlyUniqueId}[0].${terraformAttribute}`, this.cdktfStack);
    }
  };
}
