// The local cluster keeps its traffic on this machine: the FORWARD guard
// refuses pod traffic to any address outside the pod range, the service range and
// the node IP (at once, not by a silent drop), and CoreDNS answers cluster.local
// only, to pods that know no other resolver.
#include "cluster.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <regex>
#include <thread>

#include "natsbus/testing/tools.hpp"

namespace natsbus::e2e {
namespace {

// An "outside host" of our own: a network namespace on a veth with an address
// in 198.18.0.0/15 (the benchmarking range: outside the pod, service and node
// ranges, and no real host's), routed by this machine, with a TCP server that
// answers "outside". Removed when the test ends.
class OutsideHost {
 public:
  static constexpr const char* kAddress = "198.18.0.2";
  static constexpr int kPort = 18080;

  OutsideHost() {
    // Leftovers of a crashed run first.
    run({"/usr/sbin/ip", "netns", "delete", kNamespace}, true);
    run({"/usr/sbin/ip", "link", "delete", kHostLink}, true);
    ok_ = run({"/usr/sbin/ip", "netns", "add", kNamespace}) &&
          run({"/usr/sbin/ip", "link", "add", kHostLink, "type", "veth", "peer", "name", "nbout1",
               "netns", kNamespace}) &&
          run({"/usr/sbin/ip", "addr", "add", "198.18.0.1/30", "dev", kHostLink}) &&
          run({"/usr/sbin/ip", "link", "set", kHostLink, "up"}) &&
          run({"/usr/sbin/ip", "-n", kNamespace, "addr", "add", std::string(kAddress) + "/30",
               "dev", "nbout1"}) &&
          run({"/usr/sbin/ip", "-n", kNamespace, "link", "set", "nbout1", "up"}) &&
          run({"/usr/sbin/ip", "-n", kNamespace, "link", "set", "lo", "up"}) &&
          // Replies to pod addresses would route back through this machine.
          run({"/usr/sbin/ip", "-n", kNamespace, "route", "add", "default", "via", "198.18.0.1"});
    if (!ok_) return;
    server_ = std::make_unique<testing::ChildProcess>(
        std::vector<std::string>{"/usr/sbin/ip", "netns", "exec", kNamespace, "/usr/bin/python3",
                                 "-c",
                                 "import socket\n"
                                 "s = socket.socket()\n"
                                 "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                                 "s.bind(('" +
                                     std::string(kAddress) + "', " + std::to_string(kPort) +
                                     "))\n"
                                     "s.listen(8)\n"
                                     "while True:\n"
                                     "    c, peer = s.accept()\n"
                                     "    print('accepted', peer[0], flush=True)\n"
                                     "    c.sendall(b'outside')\n"
                                     "    c.close()\n"},
        std::filesystem::temp_directory_path() /
            ("natsbus-outside-" + std::to_string(::getpid()) + ".log"));
  }
  ~OutsideHost() {
    if (server_) {
      server_->stop(SIGKILL);
      std::error_code ignored;
      std::filesystem::remove(server_->logPath(), ignored);
    }
    run({"/usr/sbin/ip", "netns", "delete", kNamespace}, true);
    run({"/usr/sbin/ip", "link", "delete", kHostLink}, true);
  }
  bool ok() const { return ok_; }
  std::string log() const { return server_ ? server_->log() : ""; }

 private:
  static constexpr const char* kNamespace = "natsbus-e2e-outside";
  static constexpr const char* kHostLink = "nbout0";
  static bool run(const std::vector<std::string>& argv, bool quiet = false) {
    const auto result = testing::runCommand(argv);
    if (result.exit_code != 0 && !quiet) {
      ADD_FAILURE() << argv[0] << " " << argv[1] << " ...: " << result.err;
    }
    return result.exit_code == 0;
  }
  bool ok_ = false;
  std::unique_ptr<testing::ChildProcess> server_;
};

// Connects to host:port and prints "connected <what it read>" (`read`: the
// server speaks first) or "failed <error> <seconds>"; the same program runs in a
// pod and on the host.
std::string connectProgram(const std::string& host, int port, bool read = true) {
  return "import socket, time\n"
         "t = time.monotonic()\n"
         "try:\n"
         "    c = socket.create_connection(('" +
         host + "', " + std::to_string(port) +
         "), timeout=10)\n"
         "    print('connected', c.recv(16).decode() if " +
         (read ? "True" : "False") +
         " else '')\n"
         "except OSError as e:\n"
         "    print('failed', type(e).__name__, round(time.monotonic() - t, 3))\n";
}

long guardRejections(const std::string& chain) {
  const auto listed =
      testing::runCommand({"/usr/sbin/iptables", "-w", "-L", chain, "-v", "-n", "-x"});
  long packets = 0;
  for (const auto& line : lines(listed.out)) {
    if (line.find("REJECT") == std::string::npos) continue;
    packets += std::stol(line.substr(line.find_first_not_of(' ')));
  }
  return packets;
}

class LocalCluster : public ClusterTest {
 protected:
  // A pod from the sample app's image, which has python3.
  std::string startClientPod(const std::string& name) {
    const auto run =
        cluster().kubectl({"run", name, "-n", ns(), "--image", "natsbus/sample-app:0.1.0",
                           "--restart", "Never", "--", "listen", "--port", "3000"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    cluster().waitForReadyPods(ns(), "run=" + name, 1, 120s);
    return name;
  }
};

TEST_F(LocalCluster, GuardRefusesPodTrafficToAnOutsideHostAtOnce) {
  const auto& facts = cluster().facts();
  // The guard is the first FORWARD rule, above kube-proxy's jumps.
  const auto forward =
      lines(testing::runCommand({"/usr/sbin/iptables", "-w", "-S", "FORWARD"}).out);
  ASSERT_GE(forward.size(), 2u);
  EXPECT_NE(forward[1].find("-j " + facts.guard_chain), std::string::npos)
      << "first FORWARD rule: " << forward[1];

  OutsideHost outside;
  ASSERT_TRUE(outside.ok());
  const std::string program = connectProgram(OutsideHost::kAddress, OutsideHost::kPort);

  // From the host the outside host answers: the route and the server work, so
  // what stops the pod below is the guard.
  std::string from_host;
  cluster().waitFor("the outside host to answer the host", 20s, [&] {
    from_host = testing::runCommand({"/usr/bin/python3", "-c", program}).out;
    return from_host.rfind("connected outside", 0) == 0;
  });
  EXPECT_EQ(from_host, "connected outside\n");

  const auto pod = startClientPod("guard-client");
  const long rejected_before = guardRejections(facts.guard_chain);
  const auto from_pod =
      cluster().kubectl({"exec", "-n", ns(), pod, "--", "python3", "-c", program});
  ASSERT_EQ(from_pod.exit_code, 0) << from_pod.err;
  // Refused, at once: a reset, not a timeout after a silent drop.
  std::smatch failure;
  ASSERT_TRUE(std::regex_match(from_pod.out, failure,
                               std::regex("failed (ConnectionRefusedError) ([0-9.]+)\n")))
      << from_pod.out;
  EXPECT_LT(std::stod(failure[2]), 2.0) << from_pod.out;
  EXPECT_GT(guardRejections(facts.guard_chain), rejected_before)
      << "the guard's REJECT rules did not count the packet";
  EXPECT_EQ(outside.log().find("accepted 10.244."), std::string::npos)
      << "a pod reached the outside host: " << outside.log();

  // Inside the ranges traffic flows: the pod reaches the API server through its
  // Service and the node IP.
  const auto inside = cluster().kubectl({"exec", "-n", ns(), pod, "--", "python3", "-c",
                                         connectProgram("10.96.0.1", 443, /*read=*/false)});
  EXPECT_EQ(inside.out.rfind("connected", 0), 0u) << inside.out << inside.err;
}

TEST_F(LocalCluster, DnsAnswersClusterLocalOnly) {
  const auto pod = startClientPod("dns-client");
  // Only our CoreDNS, no search domain or resolver of the host.
  const auto resolv = outputOf(
      cluster().kubectl({"exec", "-n", ns(), pod, "--", "cat", "/etc/resolv.conf"}), "cat");
  EXPECT_NE(resolv.find("nameserver " + cluster().facts().node_ip + "\n"), std::string::npos)
      << resolv;
  EXPECT_EQ(lines(resolv).size(), 3u) << resolv;  // search, nameserver, options
  EXPECT_NE(resolv.find("search " + ns() + ".svc.cluster.local svc.cluster.local cluster.local\n"),
            std::string::npos)
      << resolv;

  const auto resolve = [&](const std::string& name) {
    return cluster()
        .kubectl({"exec", "-n", ns(), pod, "--", "python3", "-c",
                  "import socket, sys\n"
                  "try:\n"
                  "    print(socket.gethostbyname(sys.argv[1]))\n"
                  "except OSError as e:\n"
                  "    print('unresolved', e.errno)\n",
                  name})
        .out;
  };
  EXPECT_EQ(resolve("kubernetes.default.svc.cluster.local"), "10.96.0.1\n");
  EXPECT_EQ(resolve("kubernetes.default"), "10.96.0.1\n");  // through the search path
  // A Service of this test's namespace, by its short name.
  cluster().apply(R"(apiVersion: v1
kind: Service
metadata: { name: probe }
spec:
  selector: { run: dns-client }
  ports: [{ port: 3000 }]
)",
                  ns());
  const auto service = cluster().get({"service", "probe", "-n", ns()});
  ASSERT_FALSE(service.is_null());
  EXPECT_EQ(resolve("probe"), service["spec"]["clusterIP"].get<std::string>() + "\n");
  // Nothing outside cluster.local resolves: no upstream is ever asked.
  EXPECT_EQ(resolve("example.com").rfind("unresolved", 0), 0u);
  EXPECT_EQ(resolve("deb.debian.org").rfind("unresolved", 0), 0u);
}

}  // namespace
}  // namespace natsbus::e2e
