/**
 * Whether the optional oneDNN addon loads here. Tests of the `native` backend skip with the
 * reason where it does not, except under LIVETRAIN_REQUIRE_SERVICES=1 (CI installs
 * libdnnl-dev and builds it), where its absence is a failure.
 */
import { loadNativeAddon } from '../../server/trainer/native/addon';
import { servicesRequired } from './db';

/** Why the native backend cannot be tested here, or false where it can. */
export function nativeSkipReason(): string | false {
  try {
    loadNativeAddon();
    return false;
  } catch (error) {
    const reason = `native addon unavailable: ${(error as Error).message.split('\n')[0]}`;
    if (servicesRequired())
      throw new Error(`${reason}; LIVETRAIN_REQUIRE_SERVICES=1 requires it`, { cause: error });
    return reason;
  }
}
