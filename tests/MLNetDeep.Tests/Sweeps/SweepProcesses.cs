using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace MLNetDeep.Tests.Sweeps;

/// <summary>Starts the sweep sample (samples/Sweep, copied next to the tests) as a worker process.</summary>
internal sealed class WorkerProcess : IDisposable
{
    private readonly Process _p;
    private readonly List<string> _lines = new();

    public WorkerProcess(params string[] args)
    {
        var dll = Path.Combine(AppContext.BaseDirectory, "Sweep.dll");
        if (!File.Exists(dll)) throw new FileNotFoundException("The sweep sample (Sweep.dll) is not next to the tests; the test project references samples/Sweep to copy it.", dll);
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(dll);
        foreach (var a in args) psi.ArgumentList.Add(a);
        _p = Process.Start(psi)!;
        _p.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
        _p.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add("stderr: " + e.Data); };
        _p.BeginOutputReadLine();
        _p.BeginErrorReadLine();
    }

    public IReadOnlyList<string> Lines { get { lock (_lines) return _lines.ToList(); } }
    public string Output => string.Join("\n", Lines);

    /// <summary>Waits until a line contains <paramref name="text"/>; false on timeout or exit.</summary>
    public bool WaitForLine(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (Lines.Any(l => l.Contains(text))) return true;
            if (_p.HasExited) { Thread.Sleep(100); return Lines.Any(l => l.Contains(text)); }
            Thread.Sleep(20);
        }
        return false;
    }

    public void Kill() { _p.Kill(entireProcessTree: true); _p.WaitForExit(); }

    public int WaitForExit(TimeSpan timeout)
    {
        if (!_p.WaitForExit(timeout)) { Kill(); throw new TimeoutException($"The worker did not finish in {timeout}. Output:\n{Output}"); }
        _p.WaitForExit();
        return _p.ExitCode;
    }

    public void Dispose()
    {
        if (!_p.HasExited) Kill();
        _p.Dispose();
    }
}

/// <summary>
/// A throw-away PostgreSQL server from Debian's postgresql package, on 127.0.0.1 and a free port, data in a temporary
/// directory, run as the postgres user (the server refuses to run as root). Installs the package with apt-get when missing.
/// </summary>
internal sealed class PostgresServer : IDisposable
{
    private static readonly Lazy<(string? BinDir, string Reason)> Binaries = new(FindOrInstall);
    private readonly string _bin, _dir;
    private readonly bool _asPostgres;

    private PostgresServer(string bin, string dir, int port, bool asPostgres)
    {
        _bin = bin; _dir = dir; Port = port; _asPostgres = asPostgres;
    }

    public int Port { get; }
    public string ConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=true;Timeout=30";

    /// <summary>The server's bin directory, or null and why not.</summary>
    public static (string? BinDir, string Reason) Available => Binaries.Value;

    public static PostgresServer Start()
    {
        var (bin, reason) = Binaries.Value;
        if (bin is null) throw new InvalidOperationException(reason);
        bool root = Environment.UserName == "root";
        var dir = Path.Combine(Path.GetTempPath(), $"mlnd-pg-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        if (root) Run("chown", "postgres:postgres", dir);
        int port = FreePort();
        var server = new PostgresServer(bin, dir, port, root);
        server.Pg("initdb", "-D", Path.Combine(dir, "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync");
        server.Pg("pg_ctl", "-D", Path.Combine(dir, "data"), "-l", Path.Combine(dir, "log.txt"), "-w", "-t", "60",
            "-o", $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off", "start");
        return server;
    }

    private void Pg(string tool, params string[] args)
    {
        var exe = Path.Combine(_bin, tool);
        if (_asPostgres) Run("runuser", new[] { "-u", "postgres", "--", exe }.Concat(args).ToArray());
        else Run(exe, args);
    }

    private static string Run(string file, params string[] args)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(300_000)) { p.Kill(true); throw new TimeoutException($"{file} {string.Join(' ', args)} timed out"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited {p.ExitCode}: {stdout.Result}{stderr.Result}");
        return stdout.Result;
    }

    private static (string?, string) FindOrInstall()
    {
        static string? Find()
        {
            const string root = "/usr/lib/postgresql";
            if (!Directory.Exists(root)) return null;
            return Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin"))
                .Where(b => File.Exists(Path.Combine(b, "initdb")) && File.Exists(Path.Combine(b, "pg_ctl")))
                .OrderByDescending(b => b).FirstOrDefault();
        }
        if (!OperatingSystem.IsLinux()) return (null, "PostgreSQL tests need Linux with Debian's postgresql package.");
        if (Find() is { } found) return (found, "");
        try
        {
            if (Environment.UserName != "root") return (null, "Debian's postgresql package is not installed and installing it needs root (apt-get install postgresql).");
            Run("apt-get", "update", "-qq");
            Run("env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "postgresql");
        }
        catch (Exception e)
        {
            return (null, $"Debian's postgresql package is not installed and could not be installed: {e.Message}");
        }
        return Find() is { } installed ? (installed, "") : (null, "apt-get install postgresql ran but no /usr/lib/postgresql/*/bin/initdb appeared.");
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    public void Dispose()
    {
        try { Pg("pg_ctl", "-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"); } catch { /* already down */ }
        try { Directory.Delete(_dir, recursive: true); } catch { /* best effort */ }
    }
}
