#include "agent/cli/controls.h"

#include <signal.h>

#include <thread>

namespace linkwatch {

void HandleSignals(Controls& controls) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set, &controls] {
    for (;;) {
      int sig = 0;
      if (sigwait(&set, &sig) != 0) continue;
      if (sig == SIGHUP) {
        controls.RequestReload();
      } else {
        controls.RequestStop();
      }
    }
  }).detach();
}

}  // namespace linkwatch
