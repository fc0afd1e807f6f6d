// One rank of an Accelerator test run: runs the scenario named in the key=value arguments and
// writes its JSON record to out=<path> ({rank} in the path becomes this process's rank).
using System.Text.Json;
using Accelerate.TrainingWorker;

var args_ = Scenarios.Parse(args);
var result = Scenarios.Run(args_);
var path = args_["out"].Replace("{rank}", result["rank"]!.ToString());
File.WriteAllText(path + ".tmp", result.ToJsonString());
File.Move(path + ".tmp", path, overwrite: true);
