/*
 * auth.h: the bearer token check for purges.  Pure.
 */
#ifndef AUTH_H
#define AUTH_H

/*
 * Does an Authorization field value (NULL: absent) carry "Bearer <token>"?
 * The scheme is matched case-insensitively; the token is compared in time
 * that depends only on the lengths, never on where the bytes differ.
 */
int	auth_bearer(const char *header, const char *token);

#endif /* AUTH_H */
