using System.Diagnostics;
using System.Text;
using Accelerate.TrainingWorker;
using TorchSharp;
using static TorchSharp.torch;
using static Accelerate.Runtime.Tests.Training.TrainingRuns;

namespace Accelerate.Runtime.Tests.Training;

/// <summary>
/// SaveModel writes weights Python reads, and LoadModel reads what Python writes: checked with the
/// real PyTorch (Debian's python3-torch), which reads and writes safetensors by hand (the
/// <c>safetensors</c> package is not in Debian) exactly as the format is specified.
/// </summary>
[TestClass]
public sealed class SaveModelTests
{
    /// <summary>The test MLP in PyTorch, and safetensors read and written with json, struct and torch.frombuffer.</summary>
    private const string PythonSide = """
        import collections, json, os, struct, sys, torch

        DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}

        def read(path):
            with open(path, "rb") as f:
                data = f.read()
            (n,) = struct.unpack("<Q", data[:8])
            header = json.loads(data[8:8 + n])
            body = bytearray(data[8 + n:])
            tensors = {}
            for name, entry in header.items():
                if name == "__metadata__":
                    continue
                dtype = DTYPES[entry["dtype"]]
                begin, end = entry["data_offsets"]
                size = torch.empty((), dtype=dtype).element_size()
                flat = torch.frombuffer(body, dtype=dtype, offset=begin, count=(end - begin) // size) if end > begin else torch.empty(0, dtype=dtype)
                tensors[name] = flat.reshape(entry["shape"]).clone()
            return tensors

        def write(path, tensors):
            header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
            for name, tensor in tensors.items():
                blob = tensor.detach().contiguous().numpy().tobytes()
                header[name] = {"dtype": "F32", "shape": list(tensor.shape), "data_offsets": [offset, offset + len(blob)]}
                blobs.append(blob)
                offset += len(blob)
            encoded = json.dumps(header).encode()
            encoded += b" " * (-len(encoded) % 8)
            with open(path, "wb") as f:
                f.write(struct.pack("<Q", len(encoded)) + encoded + b"".join(blobs))

        def read_folder(folder):
            index = os.path.join(folder, "model.safetensors.index.json")
            if not os.path.exists(index):
                return read(os.path.join(folder, "model.safetensors"))
            tensors = {}
            with open(index) as f:
                shards = sorted(set(json.load(f)["weight_map"].values()))
            for shard in shards:
                tensors.update(read(os.path.join(folder, shard)))
            return tensors

        model = torch.nn.Sequential(collections.OrderedDict(fc1=torch.nn.Linear(8, 16), relu=torch.nn.ReLU(), fc2=torch.nn.Linear(16, 1)))
        mode, folder = sys.argv[1], sys.argv[2]
        if mode == "read":
            model.load_state_dict(read_folder(folder))  # strict: every name and shape must match
            inputs = read(os.path.join(folder, "inputs.safetensors"))["x"]
            with torch.no_grad():
                write(os.path.join(folder, "outputs.safetensors"), {"y": model(inputs)})
        else:
            torch.manual_seed(11)
            optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
            for _ in range(5):
                x, y = torch.randn(16, 8), torch.randn(16, 1)
                optimizer.zero_grad()
                torch.nn.functional.mse_loss(model(x), y).backward()
                optimizer.step()
            inputs = torch.randn(32, 8)
            write(os.path.join(folder, "model.safetensors"), model.state_dict())
            write(os.path.join(folder, "inputs.safetensors"), {"x": inputs})
            with torch.no_grad():
                write(os.path.join(folder, "outputs.safetensors"), {"y": model(inputs)})
        """;

    private DirectoryInfo _folder = null!;

    [TestInitialize]
    public void CreateFolder() => _folder = Directory.CreateTempSubdirectory("accelerate-weights-");

    [TestCleanup]
    public void RemoveFolder() => _folder.Delete(recursive: true);

    [TestMethod]
    [DataRow(10_000_000_000L, new string[] { "model.safetensors" })]
    [DataRow(300L, new[] { "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors", "model.safetensors.index.json" })]
    public void A_model_trained_and_saved_here_gives_the_same_outputs_in_pytorch(long maxShardSize, string[] files)
    {
        var (accelerator, model) = Trained();
        using var inputs = torch.randn(32, 8, generator: new Generator(5));
        using var expected = model.forward(inputs).detach();

        accelerator.SaveModel(model, _folder.FullName, maxShardSize);

        CollectionAssert.AreEquivalent(files, Directory.GetFiles(_folder.FullName).Select(Path.GetFileName).ToArray());
        SafeTensorsFile.Write(Path.Combine(_folder.FullName, "inputs.safetensors"), [KeyValuePair.Create("x", inputs)]);
        Python("read", _folder.FullName);
        var outputs = SafeTensorsFile.Read(Path.Combine(_folder.FullName, "outputs.safetensors"))["y"];
        AssertClose(Values(expected), Values(outputs), 1e-5, "PyTorch's outputs with the saved weights");
    }

    [TestMethod]
    public void Weights_pytorch_wrote_load_here_and_give_the_same_outputs()
    {
        Python("write", _folder.FullName);
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true });
        var (model, _) = Models.Create("mlp", seed: 5);
        var optimizer = Models.Optimizer("sgd", model.parameters());
        (model, _) = accelerator.Prepare(model, optimizer);
        var inputs = SafeTensorsFile.Read(Path.Combine(_folder.FullName, "inputs.safetensors"))["x"];
        var expected = SafeTensorsFile.Read(Path.Combine(_folder.FullName, "outputs.safetensors"))["y"];
        using (torch.no_grad())
            Assert.IsFalse(torch.allclose(model.forward(inputs), expected), "before loading, the model's own weights give other outputs");

        var read = accelerator.LoadModel(model, _folder.FullName);

        Assert.AreEqual(Path.Combine(_folder.FullName, "model.safetensors"), read);
        using (torch.no_grad())
            AssertClose(Values(expected), Values(model.forward(inputs)), 1e-5, "outputs with PyTorch's weights");
    }

    [TestMethod]
    public void Load_model_reads_model_bin_of_earlier_saves_and_a_new_save_replaces_it()
    {
        var (accelerator, model) = Trained();
        var saved = Values(model.parameters().First());
        accelerator.SaveModel(model, _folder.FullName, safeSerialization: false);
        using (torch.no_grad()) model.parameters().First().fill_(7);

        Assert.EndsWith("model.bin", accelerator.LoadModel(model, _folder.FullName));
        AssertClose(saved, Values(model.parameters().First()), 0, "weights read from model.bin");

        accelerator.SaveModel(model, _folder.FullName, maxShardSize: 300);
        accelerator.SaveModel(model, _folder.FullName);
        CollectionAssert.AreEqual(new[] { "model.safetensors" }, Directory.GetFiles(_folder.FullName).Select(Path.GetFileName).ToArray(),
            "the model.bin and the shards of earlier saves are gone: they would be read instead of the new weights");
    }

    [TestMethod]
    [DataRow("shorter than the length")]
    [DataRow("header length beyond the file")]
    [DataRow("header not json")]
    [DataRow("header not an object")]
    [DataRow("offsets beyond the data")]
    [DataRow("offsets reversed")]
    [DataRow("unknown dtype")]
    [DataRow("shape larger than its bytes")]
    [DataRow("shape overflowing")]
    [DataRow("negative dimension")]
    [DataRow("no data_offsets")]
    public void A_safetensors_file_with_a_hostile_header_is_a_coded_error_naming_it_not_an_out_of_memory(string hostile)
    {
        var path = Path.Combine(_folder.FullName, "model.safetensors");
        byte[] bytes = hostile switch
        {
            "shorter than the length" => [1, 2, 3],
            "header length beyond the file" => [.. BitConverter.GetBytes(ulong.MaxValue - 3), .. "{}"u8],
            "header not json" => File("{\"w\": {\"dtype\": \"F32\", ", 0),
            "header not an object" => File("[1, 2]", 0),
            "offsets beyond the data" => File("""{"w": {"dtype": "F32", "shape": [4], "data_offsets": [0, 1099511627776]}}""", 16),
            "offsets reversed" => File("""{"w": {"dtype": "F32", "shape": [0], "data_offsets": [16, 8]}}""", 16),
            "unknown dtype" => File("""{"w": {"dtype": "F128", "shape": [1], "data_offsets": [0, 16]}}""", 16),
            "shape larger than its bytes" => File("""{"w": {"dtype": "F32", "shape": [1048576, 1048576], "data_offsets": [0, 16]}}""", 16),
            "shape overflowing" => File("""{"w": {"dtype": "F64", "shape": [4294967296, 4294967296, 4294967296], "data_offsets": [0, 16]}}""", 16),
            "negative dimension" => File("""{"w": {"dtype": "F32", "shape": [-4, -1], "data_offsets": [0, 16]}}""", 16),
            _ => File("""{"w": {"dtype": "F32", "shape": [4]}}""", 16),
        };
        System.IO.File.WriteAllBytes(path, bytes);
        var (accelerator, model) = Trained();

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadModel(model, _folder.FullName));

        Assert.AreEqual("ACC2270", error.Code, error.Message);
        StringAssert.Contains(error.Message, path);
    }

    [TestMethod]
    [DataRow("../outside.safetensors")]
    [DataRow("/etc/passwd")]
    [DataRow("missing.safetensors")]
    public void An_index_naming_a_shard_outside_the_folder_or_a_missing_one_is_a_coded_error(string shard)
    {
        var (accelerator, model) = Trained();
        accelerator.SaveModel(model, _folder.FullName, maxShardSize: 300);
        var index = Path.Combine(_folder.FullName, "model.safetensors.index.json");
        System.IO.File.WriteAllText(index, System.IO.File.ReadAllText(index).Replace("model-00002-of-00002.safetensors", shard));

        var error = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadModel(model, _folder.FullName));

        Assert.AreEqual("ACC2271", error.Code, error.Message);
        StringAssert.Contains(error.Message, index);
        StringAssert.Contains(error.Message, shard);
    }

    [TestMethod]
    public void Loading_weights_of_another_model_or_from_an_empty_folder_says_what_is_wrong()
    {
        var (accelerator, model) = Trained();
        var empty = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadModel(model, _folder.FullName));
        Assert.AreEqual("ACC2273", empty.Code, empty.Message);

        SafeTensorsFile.Write(Path.Combine(_folder.FullName, "model.safetensors"), [KeyValuePair.Create("fc1.weight", torch.zeros(3, 3))]);
        var other = Assert.ThrowsExactly<AccelerateException>(() => accelerator.LoadModel(model, _folder.FullName));
        Assert.AreEqual("ACC2210", other.Code, other.Message);
    }

    /// <summary>The test MLP after a few Adam steps, prepared.</summary>
    private static (Accelerator accelerator, nn.Module<Tensor, Tensor> model) Trained()
    {
        var accelerator = new Accelerator(new AcceleratorOptions { Cpu = true });
        var (model, loss) = Models.Create("mlp", seed: 3);
        var optimizer = Models.Optimizer("adam", model.parameters());
        (model, optimizer) = accelerator.Prepare(model, optimizer);
        var generator = new Generator(9);
        for (var i = 0; i < 5; i++)
        {
            optimizer.zero_grad();
            accelerator.Backward(loss(model.forward(torch.randn(16, 8, generator: generator)), torch.randn(16, 1, generator: generator)));
            optimizer.step();
        }
        return (accelerator, model);
    }

    /// <summary>A safetensors file with <paramref name="header"/> and <paramref name="dataBytes"/> zero bytes of data.</summary>
    private static byte[] File(string header, int dataBytes)
    {
        var json = Encoding.UTF8.GetBytes(header);
        return [.. BitConverter.GetBytes((ulong)json.Length), .. json, .. new byte[dataBytes]];
    }

    private static float[] Values(Tensor tensor) => tensor.detach().to(ScalarType.Float32).reshape(-1).data<float>().ToArray();

    /// <summary>Runs the Python side with Debian's PyTorch; without it the test is inconclusive, and fails under CI.</summary>
    private static void Python(string mode, string folder)
    {
        var script = Path.Combine(folder, "..", Path.GetFileName(folder) + ".py");
        System.IO.File.WriteAllText(script, PythonSide);
        try
        {
            var start = new ProcessStartInfo("/usr/bin/python3") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            foreach (var argument in new[] { script, mode, folder }) start.ArgumentList.Add(argument);
            start.Environment["OMP_NUM_THREADS"] = "1";
            Process python;
            try
            {
                python = Process.Start(start)!;
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Missing("/usr/bin/python3 is not installed");
                throw;
            }
            using (python)
            {
                var output = python.StandardOutput.ReadToEndAsync();
                var error = python.StandardError.ReadToEndAsync();
                if (!python.WaitForExit(TimeSpan.FromSeconds(120)))
                {
                    python.Kill(entireProcessTree: true);
                    Assert.Fail("python3 did not finish within 120 s");
                }
                if (error.Result.Contains("No module named 'torch'")) Missing("PyTorch (python3-torch) is not installed");
                Assert.AreEqual(0, python.ExitCode, $"python3 {mode} failed:\n{output.Result}\n{error.Result}");
            }
        }
        finally
        {
            System.IO.File.Delete(script);
        }
    }

    private static void Missing(string what)
    {
        var message = what + "; eng/install-prerequisites.sh installs it.";
        if (System.Environment.GetEnvironmentVariable("CI") == "true") Assert.Fail(message + " Under CI every interoperability test must run.");
        Assert.Inconclusive(message);
    }
}
