using System.Text.Json.Nodes;
using static TorchSharp.torch;

namespace Accelerate.TrainingWorker;

/// <summary>
/// The Accelerator's helpers a user of HF accelerate reaches for, across ranks: the per-process
/// runners, the distributed type, gathering nested structures and objects. One record per rank.
/// </summary>
public static class ApiScenario
{
    public static JsonObject Run(IReadOnlyDictionary<string, string> args)
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true });
        var rank = accelerator.ProcessIndex;
        var ran = new JsonArray();
        if (accelerator.OnMainProcess(() => { })) ran.Add("main");
        if (accelerator.OnLocalMainProcess(() => { })) ran.Add("local_main");
        if (accelerator.OnLastProcess(() => { })) ran.Add("last");
        if (accelerator.OnProcess(1, () => { })) ran.Add("process_1");
        if (accelerator.OnLocalProcess(1, () => { })) ran.Add("local_process_1");
        var result = new JsonObject
        {
            ["rank"] = rank,
            ["ran"] = ran,
            ["main_result"] = accelerator.OnMainProcess(() => "from rank " + rank),
            ["last_result"] = accelerator.OnLastProcess(() => rank + 100),
            ["distributed_type"] = accelerator.DistributedType.ToString(),
        };
        accelerator.EndTraining();
        return result;
    }
}
