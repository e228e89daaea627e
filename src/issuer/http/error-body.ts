/**
 * The error body Azure DevOps answers with (a serialised VssServiceException): `$id`, `innerException`,
 * `message`, `typeName`, `typeKey`, `errorCode`, `eventId`. patrol's PAT lifecycle errors add `patToken: null`
 * and `patTokenError`, the PatTokenResult fields, so clients that read either shape find the reason.
 */

/** Azure DevOps' eventId for service exceptions (errorCode 0: no TFxxxx number). */
const SERVICE_EXCEPTION_EVENT_ID = 3000;

export function errorBody(message: string, typeKey: string, extra: Record<string, unknown> = {}) {
  return {
    $id: "1",
    innerException: null,
    message,
    // Not a .NET type: patrol names its own, in the same "Type, Assembly" form.
    typeName: `Patrol.Issuer.${typeKey}, patrol`,
    typeKey,
    errorCode: 0,
    eventId: SERVICE_EXCEPTION_EVENT_ID,
    ...extra,
  };
}
