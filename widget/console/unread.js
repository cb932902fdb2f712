// The number of chats with unread messages, in the page title and the favicon, so an agent in
// another tab or window sees it.
let shown = -1

export function showUnread (count) {
  document.title = (count ? `(${count}) ` : '') + document.title.replace(/^\(\d+\) /, '')
  if (count === shown) return
  shown = count
  let link = document.querySelector('link[rel="icon"]')
  if (!link) {
    link = document.createElement('link')
    link.rel = 'icon'
    document.head.append(link)
  }
  link.href = 'data:image/svg+xml,' + encodeURIComponent(icon(count))
}

function icon (count) {
  const bubble = '<path d="M6 8h40a6 6 0 0 1 6 6v22a6 6 0 0 1-6 6H22l-10 10v-10H6a6 6 0 0 1-6-6V14a6 6 0 0 1 6-6z" fill="#0b57a4"/>'
  const badge = count
    ? `<circle cx="46" cy="18" r="18" fill="#a4160b"/><text x="46" y="25" font-size="22" font-family="sans-serif" font-weight="700" fill="#fff" text-anchor="middle">${count > 9 ? '9+' : count}</text>`
    : ''
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${bubble}${badge}</svg>`
}
