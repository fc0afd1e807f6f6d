namespace Accelerate.Configuration.Tests;

[TestClass]
public sealed class ConfigErrorTests
{
    /// <summary>Writes <paramref name="text"/> to a file, loads it, and returns the error, which must name the file.</summary>
    internal static ConfigFileException LoadFails(string name, string text)
    {
        using var folder = new TemporaryFolder();
        var path = folder.File(name, text);
        var error = Assert.ThrowsExactly<ConfigFileException>(() => ConfigFile.Load(path));
        StringAssert.StartsWith(error.Message, path, "every message names the file");
        return error;
    }

    [TestMethod]
    public void Unknown_keys_are_all_listed_with_their_position_and_the_closest_known_key()
    {
        var error = LoadFails("c.yaml", "distributed_type: NO\nnum_process: 2\nmixed_precison: fp16\n");

        Assert.AreEqual(2, error.Errors.Count);
        Assert.AreEqual(ConfigErrorCode.UnknownKey, error.Code);
        Assert.AreEqual((2, 1, "num_process"), (error.Errors[0].Line, error.Errors[0].Column, error.Errors[0].Key));
        StringAssert.Contains(error.Message, ":2:1: error ACC2402: unknown key 'num_process'; did you mean 'num_processes'?");
        StringAssert.Contains(error.Message, ":3:1: error ACC2402: unknown key 'mixed_precison'; did you mean 'mixed_precision'?");
    }

    [TestMethod]
    public void A_wrong_type_names_file_line_column_key_and_allowed_values()
    {
        var error = LoadFails("c.yaml", "distributed_type: NO\nuse_cpu: maybe\n");

        var only = error.Errors.Single();
        Assert.AreEqual((ConfigErrorCode.InvalidValue, 2, 10, "use_cpu"), (only.Code, only.Line, only.Column, only.Key));
        StringAssert.EndsWith(error.Message, ":2:10: error ACC2403: `use_cpu` must be true or false, not 'maybe'.");
    }

    [TestMethod]
    public void A_value_outside_the_allowed_set_lists_the_allowed_values()
    {
        var error = LoadFails("c.yaml", "distributed_type: MULTI_TPUS\n");
        StringAssert.Contains(error.Message, ":1:19: error ACC2403: `distributed_type` must be one of NO, MULTI_CPU, MULTI_GPU, not 'MULTI_TPUS'.");

        var precision = LoadFails("c.yaml", "distributed_type: NO\nmixed_precision: fp32\n");
        StringAssert.Contains(precision.Message, "`mixed_precision` must be one of no, fp16, bf16, not 'fp32'.");

        var backend = LoadFails("c.yaml", "distributed_type: NO\nrdzv_backend: tcp\n");
        StringAssert.Contains(backend.Message, "`rdzv_backend` must be one of static, c10d, not 'tcp'.");
    }

    [TestMethod]
    [DataRow("FSDP")]
    [DataRow("DEEPSPEED")]
    [DataRow("MULTI_NPU")]
    [DataRow("XLA")]
    [DataRow("MEGATRON_LM")]
    public void HF_distributed_types_without_a_TorchSharp_counterpart_are_read_and_rejected_as_not_supported(string type)
    {
        var error = LoadFails("c.yaml", $"compute_environment: LOCAL_MACHINE\ndistributed_type: {type}\nfsdp_config: {{}}\n");

        Assert.AreEqual(ConfigErrorCode.NotSupported, error.Code);
        StringAssert.Contains(error.Message, $":2:19: error ACC2404: `distributed_type: {type}` is not supported by Accelerate for .NET; allowed values are NO, MULTI_CPU, MULTI_GPU.");
    }

    [TestMethod]
    public void Fp8_SageMaker_and_etcd_are_not_supported()
    {
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nmixed_precision: fp8\n").Message,
            "`mixed_precision: fp8` is not supported by Accelerate for .NET; allowed values are no, fp16, bf16.");
        var sagemaker = LoadFails("c.yaml", "compute_environment: AMAZON_SAGEMAKER\ndistributed_type: DATA_PARALLEL\nec2_instance_type: ml.p3.2xlarge\n");
        Assert.AreEqual(1, sagemaker.Errors.Count, "a SageMaker file's own keys are not reported as unknown");
        StringAssert.Contains(sagemaker.Message, "`compute_environment: AMAZON_SAGEMAKER` is not supported");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nrdzv_backend: etcd\n").Message, "`rdzv_backend: etcd` is not supported");
    }

    [TestMethod]
    public void Numbers_out_of_range_are_rejected_with_the_allowed_range()
    {
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nmain_process_port: 70000\n").Message,
            "`main_process_port` must be a port number from 0 to 65535 (0 picks a free port), not '70000'.");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nnum_processes: two\n").Message,
            "`num_processes` must be a whole number of processes, 1 or more (or -1 for \"not set\"), not 'two'.");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nnum_processes: 0\n").Message, "`num_processes` must be");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nnum_machines: 0\n").Message, "`num_machines` must be a whole number of machines, 1 or more, not '0'.");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nmachine_rank: 2\nnum_machines: 2\n").Message,
            ":2:15: error ACC2403: `machine_rank` is 2 but `num_machines` is 2; allowed values are 0 to 1.");
    }

    [TestMethod]
    public void Gpu_ids_must_be_all_or_a_list_of_ids()
    {
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\ngpu_ids: first\n").Message,
            "`gpu_ids` must be all, or a comma-separated list of GPU ids such as 0,1, not 'first'.");
        Assert.AreEqual("0,1", ConfigFile.Parse("distributed_type: NO\ngpu_ids: 0, 1\n", ConfigFormat.Yaml).GpuIds);
        Assert.AreEqual("3", ConfigFile.Parse("distributed_type: NO\ngpu_ids: 3\n", ConfigFormat.Yaml).GpuIds);
    }

    [TestMethod]
    public void A_nested_config_must_be_a_mapping_and_a_scalar_key_must_not_be_one()
    {
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nfsdp_config: yes\n").Message,
            ":2:14: error ACC2403: `fsdp_config` must be a mapping of settings (indented `key: value` lines, or {}), not 'yes'.");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nnum_processes:\n  a: 1\n").Message, "`num_processes` must be a whole number");
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\nmain_process_ip: [a, b]\n").Message,
            "`main_process_ip` must be an IP address or host name, not a list.");
    }

    [TestMethod]
    public void A_missing_distributed_type_says_to_add_it()
    {
        var error = LoadFails("c.yaml", "num_processes: 2\n");

        Assert.AreEqual(ConfigErrorCode.MissingKey, error.Code);
        StringAssert.Contains(error.Message, "error ACC2405: `distributed_type` is missing; every config file must set it. Add `distributed_type: NO` (or MULTI_CPU, MULTI_GPU).");
    }

    [TestMethod]
    public void An_empty_distributed_type_lists_the_allowed_values()
    {
        var error = LoadFails("c.yaml", "distributed_type:\nnum_processes: 2\n");

        var only = error.Errors.Single();
        Assert.AreEqual((ConfigErrorCode.MissingKey, 1, "distributed_type"), (only.Code, only.Line, only.Key));
        StringAssert.Contains(error.Message, "error ACC2405: `distributed_type` is empty; allowed values are NO, MULTI_CPU, MULTI_GPU.");
    }

    [TestMethod]
    public void Empty_files_and_files_that_are_not_mappings_are_rejected()
    {
        StringAssert.Contains(LoadFails("c.yaml", "").Message, "error ACC2401: the file is empty.");
        StringAssert.Contains(LoadFails("c.yaml", "# only a comment\n").Message, "the file is empty");
        StringAssert.Contains(LoadFails("c.json", "  ").Message, "the file is empty");
        StringAssert.Contains(LoadFails("c.yaml", "- distributed_type: NO\n").Message, ":1:1: error ACC2401: expected `key: value` settings");
    }

    [TestMethod]
    public void Broken_yaml_is_reported_with_its_position()
    {
        var error = LoadFails("c.yaml", "distributed_type: NO\nnum_processes: 2\n  use_cpu: true\n");

        Assert.AreEqual(ConfigErrorCode.Syntax, error.Code);
        Assert.AreEqual(3, error.Errors[0].Line);
        StringAssert.Contains(error.Message, "not valid YAML");
    }

    [TestMethod]
    public void A_key_given_twice_is_an_error_in_yaml_and_json()
    {
        StringAssert.Contains(LoadFails("c.yaml", "distributed_type: NO\ndistributed_type: MULTI_GPU\n").Message,
            ":2:1: error ACC2401: the key 'distributed_type' appears twice; keep one.");
        StringAssert.Contains(LoadFails("c.json", "{\"distributed_type\": \"NO\",\n \"distributed_type\": \"NO\"}").Message,
            ":2:2: error ACC2401: the key 'distributed_type' appears twice");
    }

    [TestMethod]
    public void Json_files_report_syntax_and_type_errors_with_line_and_column()
    {
        var syntax = LoadFails("c.json", "{\n  \"distributed_type\": \"NO\"\n  \"use_cpu\": true\n}\n");
        Assert.AreEqual((ConfigErrorCode.Syntax, 3), (syntax.Code, syntax.Errors[0].Line));
        StringAssert.Contains(syntax.Message, "not valid JSON");

        var type = LoadFails("c.json", "{\n  \"distributed_type\": \"NO\",\n  \"num_processes\": \"many\"\n}\n");
        StringAssert.Contains(type.Message, ":3:20: error ACC2403: `num_processes` must be a whole number");

        var unknown = LoadFails("c.json", "{\n  \"distributed_type\": \"NO\",\n  \"use_gpu\": true\n}\n");
        StringAssert.Contains(unknown.Message, ":3:3: error ACC2402: unknown key 'use_gpu'; did you mean 'use_cpu'?");
    }

    [TestMethod]
    public void Several_problems_are_reported_together_in_file_order()
    {
        var error = LoadFails("c.yaml", "use_cpu: 3\nnum_procs: 2\n");

        CollectionAssert.AreEqual(
            new[] { ConfigErrorCode.InvalidValue, ConfigErrorCode.UnknownKey, ConfigErrorCode.MissingKey },
            error.Errors.Select(e => e.Code).ToArray());
    }

    [TestMethod]
    public void A_missing_file_says_how_to_create_one()
    {
        using var folder = new TemporaryFolder();
        var path = folder.File("absent.yaml");

        var error = Assert.ThrowsExactly<ConfigFileException>(() => ConfigFile.Load(path));

        Assert.AreEqual(ConfigErrorCode.FileNotFound, error.Code);
        StringAssert.Contains(error.Message, "accelerate config");
    }
}
