// The HTTP layer alone, cpprestsdk flavour: an http_listener answering every
// request 200 with a constant body. Compared with the sidecar's Beast server
// answering /healthz (also no broker) in docs/sidecar-benchmarks.md.
// Usage: natsbus-bench-cpprest-noop PORT   (runs until SIGTERM/SIGINT)
#include <cpprest/http_listener.h>
#include <signal.h>

#include <iostream>
#include <string>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: " << argv[0] << " PORT\n";
    return 2;
  }
  web::http::experimental::listener::http_listener listener("http://127.0.0.1:" +
                                                            std::string(argv[1]));
  listener.support([](const web::http::http_request& request) {
    request.reply(web::http::status_codes::OK, R"({"status":"ok"})", "application/json");
  });
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  listener.open().wait();
  int received = 0;
  sigwait(&signals, &received);
  listener.close().wait();
  return 0;
}
