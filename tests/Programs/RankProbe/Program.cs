using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

// RankProbe <mode> [args]: what one rank does in a launcher test. Every waiting mode prints "ready rank=R pid=P"
// first, so tests can wait on that line.
var mode = args.Length > 0 ? args[0] : "env";
var rank = int.Parse(Environment.GetEnvironmentVariable("RANK") ?? "0");
var stop = new ManualResetEventSlim();
using var term = PosixSignalRegistration.Create(PosixSignal.SIGTERM, context =>
{
    context.Cancel = true;
    if (mode == "ignore-term") { Console.WriteLine($"ignored SIGTERM rank={rank}"); return; }
    Console.WriteLine($"got SIGTERM rank={rank}");
    stop.Set();
});
using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, context =>
{
    context.Cancel = true;
    if (mode == "ignore-term") { Console.WriteLine($"ignored SIGINT rank={rank}"); return; }
    Console.WriteLine($"got SIGINT rank={rank}");
    stop.Set();
});

return mode switch
{
    "env" => PrintEnvironment(args[1..]),
    "exit" => int.Parse(args[1]),
    "wait" or "ignore-term" => Wait(),
    "fail" => rank == int.Parse(args[1]) ? Fail(int.Parse(args[2]), args.ElementAtOrDefault(3)) : Wait(),
    "throw" => rank == int.Parse(args[1]) ? Throw(args[2]) : Wait(),
    "selfkill" => rank == int.Parse(args[1]) ? SelfKill(args.ElementAtOrDefault(2)) : Wait(),
    "restart-until" => RestartUntil(int.Parse(args[1]), args.Length > 2 ? int.Parse(args[2]) : 0),
    "rendezvous" => PrintEnvironment([]) + Rendezvous(),
    // Waits on the first attempt (until stopped), meets the other ranks on later ones: a job that ends only after a restart.
    "wait-then-rendezvous" => Environment.GetEnvironmentVariable("TORCHELASTIC_RESTART_COUNT") == "0" ? Wait() : PrintEnvironment([]) + Rendezvous(),
    // Waits (until SIGTERM, then exits 75 as a rank that saved a checkpoint) while the job runs on fewer than N machines;
    // meets the other ranks once it runs on N: a job that ends only after machines joined it.
    "grow-to" => int.Parse(Environment.GetEnvironmentVariable("GROUP_WORLD_SIZE")!) < int.Parse(args[1]) ? Checkpointed(Wait()) : PrintEnvironment([]) + Rendezvous(),
    // Machine 0's ranks end at once, the others' when the trigger file exists: a job that is finishing.
    "machine0-first" => Environment.GetEnvironmentVariable("GROUP_RANK") == "0" ? 0 : WaitForTrigger(args[1]),
    _ => throw new ArgumentException($"unknown mode {mode}"),
};

int PrintEnvironment(string[] rest)
{
    var variables = Environment.GetEnvironmentVariables().Cast<System.Collections.DictionaryEntry>()
        .ToDictionary(e => (string)e.Key, e => (string?)e.Value);
    Console.WriteLine("ENV " + JsonSerializer.Serialize(new Dictionary<string, object> { ["args"] = rest, ["env"] = variables }));
    return 0;
}

int Wait()
{
    Console.WriteLine($"ready rank={rank} pid={Environment.ProcessId}");
    if (mode == "ignore-term") Thread.Sleep(Timeout.Infinite);
    stop.Wait();
    return 143;
}

static int Checkpointed(int stopped) => stopped == 143 ? 75 : stopped;

int WaitForTrigger(string trigger)
{
    Console.WriteLine($"ready rank={rank} pid={Environment.ProcessId}");
    AwaitTrigger(trigger);
    return 0;
}

int Fail(int code, string? trigger)
{
    Console.WriteLine($"ready rank={rank} pid={Environment.ProcessId}");
    AwaitTrigger(trigger);
    Console.Error.WriteLine($"rank {rank} is about to fail");
    Console.Error.WriteLine($"last words of rank {rank}");
    return code;
}

int Throw(string message)
{
    try
    {
        throw new InvalidOperationException(message);
    }
    catch (Exception e)
    {
        // What the runtime does for a failing rank: torchrun's error record at TORCHELASTIC_ERROR_FILE.
        var record = new { message = new { message = $"{e.GetType().Name}: {e.Message}", extraInfo = new { py_callstack = e.ToString(), timestamp = DateTimeOffset.UtcNow.ToUnixTimeSeconds().ToString() } } };
        File.WriteAllText(Environment.GetEnvironmentVariable("TORCHELASTIC_ERROR_FILE")!, JsonSerializer.Serialize(record));
        Console.Error.WriteLine(e.ToString());
        return 1;
    }
}

int SelfKill(string? trigger)
{
    Console.WriteLine($"ready rank={rank} pid={Environment.ProcessId}");
    AwaitTrigger(trigger);
    Process.GetCurrentProcess().Kill();
    return 0;
}

// A test that needs every rank up before one fails creates this file once it has seen all "ready" lines.
void AwaitTrigger(string? trigger)
{
    while (trigger is not null && !File.Exists(trigger)) Thread.Sleep(10);
}

int RestartUntil(int attempts, int failingRank)
{
    var restart = int.Parse(Environment.GetEnvironmentVariable("TORCHELASTIC_RESTART_COUNT")!);
    Console.WriteLine($"attempt restart={restart} rank={rank}");
    if (restart >= attempts) return 0;
    if (rank == failingRank) return 5;
    return Wait();
}

int Rendezvous()
{
    // A minimal store: rank 0 serves MASTER_PORT, the others connect (retrying until it is up) and prove the secret.
    var port = int.Parse(Environment.GetEnvironmentVariable("MASTER_PORT")!);
    var world = int.Parse(Environment.GetEnvironmentVariable("WORLD_SIZE")!);
    var secret = Environment.GetEnvironmentVariable("ACCELERATE_LAUNCH_SECRET")!;
    if (rank == 0)
    {
        var listener = new TcpListener(IPAddress.Any, port);
        listener.Start();
        var seen = new List<string>();
        for (var i = 1; i < world; i++)
        {
            using var client = listener.AcceptTcpClient();
            using var reader = new StreamReader(client.GetStream());
            var line = reader.ReadLine()!.Split(' ');
            if (line[1] != secret) { Console.Error.WriteLine($"rank {line[0]} has another secret"); return 7; }
            seen.Add(line[0]);
            client.GetStream().Write("ok\n"u8);
        }
        Console.WriteLine($"rendezvous ok port={port} ranks={string.Join(',', seen.OrderBy(int.Parse))}");
        return 0;
    }
    var deadline = DateTime.UtcNow.AddSeconds(60);
    while (true)
    {
        try
        {
            using var client = new TcpClient();
            client.Connect(Environment.GetEnvironmentVariable("MASTER_ADDR")!, port);
            client.GetStream().Write(Encoding.ASCII.GetBytes($"{rank} {secret}\n"));
            using var reader = new StreamReader(client.GetStream());
            Console.WriteLine($"joined rank={rank} reply={reader.ReadLine()}");
            return 0;
        }
        catch (SocketException) when (DateTime.UtcNow < deadline)
        {
            Thread.Sleep(100);
        }
    }
}
