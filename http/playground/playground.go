// Package playground serves a one-page browser playground for Armistice's
// HTTP API at "/": a prompt, Submit, the answer streaming in, the
// request's state timeline, Cancel, "drop connection" (the page resumes
// from the last event id and shows that nothing was lost or repeated) and
// a second viewer on the same request.
//
// The page is one HTML file, one script and one stylesheet, embedded in
// the binary: no build step, no framework, no CDN; it works offline. It
// reads event streams with fetch, not EventSource, so that a typed API key
// travels in the Authorization header; with keys off it needs none. The
// page itself is served without authentication (it holds no data), from
// the API's origin, so no CORS is needed.
package playground

import (
	"embed"
	"io/fs"
	"net/http"

	armhttp "github.com/armistice-go/armistice/http"
	"github.com/labstack/echo/v4"
)

//go:embed static
var static embed.FS

// Register adds the playground's routes to srv: GET / (the page) and
// GET /playground/{app.js,style.css}.
func Register(srv *armhttp.Server) {
	files, _ := fs.Sub(static, "static") // cannot fail: the directory is embedded
	page := func(name, contentType string) echo.HandlerFunc {
		data, err := fs.ReadFile(files, name)
		if err != nil {
			panic(err) // cannot happen: the files are embedded
		}
		return func(c echo.Context) error {
			c.Response().Header().Set(echo.HeaderCacheControl, "no-cache")
			return c.Blob(http.StatusOK, contentType, data)
		}
	}
	e := srv.Echo()
	e.GET("/", page("index.html", "text/html; charset=utf-8"))
	e.GET("/playground/app.js", page("app.js", "text/javascript; charset=utf-8"))
	e.GET("/playground/style.css", page("style.css", "text/css; charset=utf-8"))
}
