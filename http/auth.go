package http

import (
	"crypto/sha256"
	stdhttp "net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// tenantKey holds the authenticated tenant in the echo context.
const tenantKey = "armistice.tenant"

// authenticate resolves the Bearer key to a tenant when keys are
// configured. The tenant is the owner of the requests it submits, so ids
// of other tenants answer 404 exactly like unknown ones.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if len(s.keys) == 0 {
			return next(c)
		}
		header := c.Request().Header.Get(echo.HeaderAuthorization)
		scheme, key, ok := strings.Cut(header, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
			return apiError(stdhttp.StatusUnauthorized, CodeUnauthorized, "an API key is required: Authorization: Bearer <key>")
		}
		tenant, ok := s.keys[sha256.Sum256([]byte(strings.TrimSpace(key)))]
		if !ok {
			return apiError(stdhttp.StatusUnauthorized, CodeUnauthorized, "the API key is not valid")
		}
		c.Set(tenantKey, tenant)
		return next(c)
	}
}

// TenantFor resolves the request's API key. ok is false when keys are
// configured and the request carries no valid one; with no keys configured
// every request is the anonymous tenant "". Other front doors on the same
// server (the OpenAI-compatible routes) use it to share the keys and the
// tenant isolation while writing errors in their own shape.
func (s *Server) TenantFor(r *stdhttp.Request) (tenant string, ok bool) {
	if len(s.keys) == 0 {
		return "", true
	}
	scheme, key, found := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	if !found || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(key) == "" {
		return "", false
	}
	tenant, ok = s.keys[sha256.Sum256([]byte(strings.TrimSpace(key)))]
	return tenant, ok
}

func tenant(c echo.Context) string {
	t, _ := c.Get(tenantKey).(string)
	return t
}
