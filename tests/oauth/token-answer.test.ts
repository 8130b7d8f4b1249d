import { tokenAnswer, TokenRefusedError } from '../../src/modules/oauth/oauth.service';

/** How a token endpoint's answer is read, in the shapes servers that are not RFC 6749's give. */
describe('tokenAnswer', () => {
  const refusal = (status: number, body: unknown) => {
    try {
      tokenAnswer(status, body);
    } catch (err) {
      return err;
    }
    throw new Error('no refusal');
  };

  it('when the answer holds tokens, then they come back; without an access_token it is a failure', () => {
    expect(tokenAnswer(200, { access_token: 'a', refresh_token: 'r', expires_in: '1800' })).toMatchObject({ access_token: 'a' });
    expect(refusal(200, { token_type: 'bearer' })).not.toBeInstanceOf(TokenRefusedError);
  });

  it.each([
    [400, { error: 'invalid_grant', error_description: 'expired' }, 'invalid_grant', true],
    [400, { status: 'BAD_REFRESH_TOKEN', message: 'missing or invalid refresh token' }, 'BAD_REFRESH_TOKEN', true],
    [400, 'error=invalid_grant&error_description=Token+expired', 'invalid_grant', true],
    [200, { error: 'invalid_code' }, 'invalid_code', true],
    [401, { error: 'invalid_client' }, 'invalid_client', false],
    [401, '<html>Unauthorized</html>', 'invalid_client', false],
    [400, '<html>Bad Request</html>', 'invalid_request', false],
  ])('when %i %j, then refused with %s (grant dead: %s)', (status, body, error, dead) => {
    const err = refusal(status, body);
    expect(err).toBeInstanceOf(TokenRefusedError);
    expect(err).toMatchObject({ error, grantDead: dead });
  });

  it.each([
    [429, { error: 'invalid_grant' }],
    [408, ''],
    [503, { error: 'temporarily_unavailable' }],
    [400, { error: 'temporarily_unavailable' }],
    [200, { error: 'Access Denied', error_description: 'You have made too many requests continuously.' }],
    [302, ''],
  ])('when %i %j, then a failure to try again, not a refusal', (status, body) => {
    const err = refusal(status, body);
    expect(err).toBeInstanceOf(Error);
    expect(err).not.toBeInstanceOf(TokenRefusedError);
  });
});
