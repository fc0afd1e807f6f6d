// Prints what the launcher told this process about its place in the job.
var rank = Environment.GetEnvironmentVariable("RANK") ?? "0";
var world = Environment.GetEnvironmentVariable("WORLD_SIZE") ?? "1";
Console.WriteLine($"hello from rank {rank} of {world} (master {Environment.GetEnvironmentVariable("MASTER_ADDR")}:{Environment.GetEnvironmentVariable("MASTER_PORT")})");
